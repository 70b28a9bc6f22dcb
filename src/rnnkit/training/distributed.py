"""Data-parallel training with what PyTorch ships: ``DistributedDataParallel`` launched by ``torchrun``.

``torchrun --nproc_per_node N script.py`` starts N processes and gives each the environment variables
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. The trainer reads them,
joins the process group (gloo on the CPU, nccl on CUDA) and wraps the model in DDP, which averages the
gradients over the processes during ``backward``; every process then takes the same optimizer step, so
the weights stay identical.

Each process takes every ``world_size``-th batch of the same deterministic order (rank ``r`` takes
batches ``r, r + W, r + 2W, ...``), and an epoch is ``num_batches // W`` steps so every process steps the
same number of times (a collective waits for all of them).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedEnv:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the logs and checkpoints."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        """The sums over all processes of each of ``values``, in float64."""
        if not self.enabled:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()


def detect(environ: dict[str, str] | None = None) -> DistributedEnv:
    """The process's rank from the ``torchrun`` environment variables (one process when they are absent)."""
    env = os.environ if environ is None else environ
    try:
        world_size = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local_rank = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as err:
        raise ValueError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers: {err}") from err
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"need 0 <= RANK < WORLD_SIZE, got RANK={rank} WORLD_SIZE={world_size}")
    return DistributedEnv(rank=rank, world_size=world_size, local_rank=local_rank)


def init_process_group(env: DistributedEnv, device: torch.device) -> None:
    """Join the process group, unless there is one process or the caller already joined."""
    if env.enabled and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def shard(batches: Iterator[Any], start: int, steps: int, env: DistributedEnv) -> Iterator[tuple[int, Any]]:
    """This process's share of an epoch's batches from global index ``start`` (a multiple of the world
    size): pairs ``(global index, batch)`` for indices ``r, r + W, ...`` below ``steps * W``."""
    end = steps * env.world_size
    for index, batch in enumerate(batches, start=start):
        if index >= end:
            return
        if index % env.world_size == env.rank:
            yield index, batch
