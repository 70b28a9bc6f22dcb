"""Batch sources: deterministic, resumable iterators over an epoch's batches.

The contract the trainer relies on::

    source.num_batches(epoch) -> int
    source.batches(epoch, start=0) -> Iterator[batch]   # batch indices start, start+1, ...

The same (seed, epoch) gives the same batches in the same order, so ``batches(epoch, start=k)`` equals
``list(batches(epoch))[k:]`` and a run resumed mid-epoch sees what an uninterrupted run would have.
Randomness comes only from a ``torch.Generator`` seeded from (seed, epoch), never the global RNG.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, Protocol, TypeVar

import torch
from torch import Tensor

from .batch import StreamBatch

T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")


class BatchSource(Protocol[T_co]):
    def num_batches(self, epoch: int) -> int: ...

    def batches(self, epoch: int, start: int = 0) -> Iterator[T_co]: ...


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A generator seeded from (seed, epoch) through a hash, so neighbouring seeds and epochs give
    unrelated streams (``seed + epoch`` would make run 1 epoch 0 replay run 0 epoch 1)."""
    digest = hashlib.blake2b(f"{seed}:{epoch}".encode(), digest_size=8).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest, "little") & (2**63 - 1))


def _check_start(start: int, n: int) -> None:
    if not 0 <= start <= n:
        raise ValueError(f"start batch {start} is outside the epoch's {n} batches")


class BucketBatchSource(Generic[T]):
    """Batches of examples of similar length, for little padding.

    Training (``shuffle=True``): each epoch, shuffle the example indices, cut them into chunks of
    ``batch_size * chunk_batches``, sort each chunk by decreasing length key, cut it into batches, and
    shuffle the order of all the batches. Sorting only within a shuffled chunk keeps the batches
    different from epoch to epoch while their rows have nearly equal lengths.

    Evaluation (``shuffle=False``): the whole split sorted by decreasing length key, the same every epoch.

    ``collate`` turns a list of example indices into a batch.
    """

    def __init__(
        self,
        keys: Sequence[int],
        collate: Callable[[list[int]], T],
        *,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        chunk_batches: int = 50,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if chunk_batches < 1:
            raise ValueError(f"chunk_batches must be >= 1, got {chunk_batches}")
        if len(keys) == 0:
            raise ValueError("cannot batch an empty split")
        self.keys = torch.as_tensor(list(keys), dtype=torch.long)
        self.collate = collate
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.chunk_batches = chunk_batches
        self.drop_last = drop_last
        self._cached: tuple[int, list[list[int]]] | None = None

    def __len__(self) -> int:
        """Number of examples."""
        return len(self.keys)

    def _by_length(self, idx: Tensor) -> Tensor:
        order = torch.sort(self.keys[idx], descending=True, stable=True).indices
        return idx[order]

    def plan(self, epoch: int) -> list[list[int]]:
        """The example indices of each batch of ``epoch``, in order."""
        if self._cached is not None and self._cached[0] == (epoch if self.shuffle else 0):
            return self._cached[1]
        n, bs = len(self.keys), self.batch_size
        if self.shuffle:
            g = epoch_generator(self.seed, epoch)
            perm = torch.randperm(n, generator=g)
            chunk = bs * self.chunk_batches
            groups: list[list[int]] = []
            for c in range(0, n, chunk):
                idx = self._by_length(perm[c : c + chunk])
                groups += [idx[i : i + bs].tolist() for i in range(0, len(idx), bs)]
            order = torch.randperm(len(groups), generator=g).tolist()
            groups = [groups[i] for i in order]
        else:
            idx = self._by_length(torch.arange(n))
            groups = [idx[i : i + bs].tolist() for i in range(0, n, bs)]
        if self.drop_last:
            groups = [g_ for g_ in groups if len(g_) == bs]
        self._cached = (epoch if self.shuffle else 0, groups)
        return groups

    def num_batches(self, epoch: int) -> int:
        return len(self.plan(epoch))

    def batches(self, epoch: int, start: int = 0) -> Iterator[T]:
        plan = self.plan(epoch)
        _check_start(start, len(plan))
        for rows in plan[start:]:
            yield self.collate(rows)


class StreamBatchSource:
    """A token stream as ``batch_size`` contiguous parallel streams, cut into chunks of ``bptt`` steps.

    The stream ``x_0 .. x_{N-1}`` is laid out as a (B, L) grid, ``L = (N - 1) // B``, row b holding
    ``x_{bL} .. x_{bL+L-1}``; targets are the same grid shifted one step ahead. Batch i is columns
    ``[i k, (i+1) k)``, so row b of batch i continues row b of batch i-1 and a recurrent state carried
    across batches (truncated backpropagation through time) always sees the text in order. The layout
    is the same every epoch; the trainer resets the carried state at each epoch start.
    """

    def __init__(self, ids: Tensor | Sequence[int], *, batch_size: int, bptt: int) -> None:
        if batch_size < 1 or bptt < 1:
            raise ValueError(f"batch_size and bptt must be >= 1, got {batch_size} and {bptt}")
        ids = torch.as_tensor(ids, dtype=torch.long)
        length = (len(ids) - 1) // batch_size
        if length < 1:
            raise ValueError(f"a stream of {len(ids)} tokens is too short for {batch_size} parallel streams")
        self.inputs = ids[: batch_size * length].reshape(batch_size, length)  # (B, L)
        self.targets = ids[1 : batch_size * length + 1].reshape(batch_size, length)  # (B, L)
        self.batch_size = batch_size
        self.bptt = bptt

    def num_batches(self, epoch: int) -> int:
        return math.ceil(self.inputs.shape[1] / self.bptt)

    def batches(self, epoch: int, start: int = 0) -> Iterator[StreamBatch]:
        n = self.num_batches(epoch)
        _check_start(start, n)
        for i in range(start, n):
            cols = slice(i * self.bptt, (i + 1) * self.bptt)
            x, y = self.inputs[:, cols], self.targets[:, cols]  # (B, k)
            yield StreamBatch(x, y, torch.full((self.batch_size,), x.shape[1], dtype=torch.long))
