"""The step contract every generating model implements, and what decoding returns.

.. code-block:: python

    model.step(tokens: LongTensor (N,), state) -> (log_probs: FloatTensor (N, V), state)
    model.reorder_state(state, index: LongTensor (N',)) -> state     # row i of the result = row index[i]

``N`` is the number of rows being decoded (sentences, or sentences x beams); ``V`` the vocabulary.
``log_probs`` are normalised (``log_softmax``). ``state`` is opaque to decoding: any structure of tensors
the model needs (recurrent state, encoder memory, masks, the previous attentional vector, ...).
``reorder_state`` selects and duplicates rows: beam search uses it to expand ``N`` sentences into
``N * K`` beams and to follow the surviving beams at each step.

Decoding needs ``N`` before the first step. It is taken, in order, from the ``batch_size`` argument, the
length of ``bos_id`` when that is a tensor, ``model.state_batch_size(state)`` when the model defines it,
and otherwise dim 0 of the first tensor found in the state (checked against the first step's output).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch
from torch import Tensor


@runtime_checkable
class StepModel(Protocol):
    def step(self, tokens: Tensor, state: Any) -> tuple[Tensor, Any]: ...

    def reorder_state(self, state: Any, index: Tensor) -> Any: ...


class Decoded(NamedTuple):
    """Greedy or sampled output for ``N`` rows.

    ``tokens``: per row, the generated ids without BOS, up to and without EOS.
    ``scores`` ``(N,)``: the model's log-probability of each output, ``sum_t log p(y_t | y_<t)``, the
    EOS step included when EOS was produced.
    """

    tokens: list[list[int]]
    scores: Tensor


def _first_tensor(state: Any) -> Tensor | None:
    if isinstance(state, Tensor):
        return state
    if is_dataclass(state) and not isinstance(state, type):
        items = [getattr(state, f.name) for f in fields(state)]
    elif isinstance(state, Mapping):
        items = list(state.values())
    elif isinstance(state, (tuple, list)):
        items = list(state)
    else:
        return None
    for item in items:
        found = _first_tensor(item)
        if found is not None:
            return found
    return None


def start_tokens(model: Any, state: Any, bos_id: int | Tensor, batch_size: int | None) -> Tensor:
    """The first input of decoding, a LongTensor ``(N,)`` of BOS ids, on the state's device."""
    if not isinstance(model, StepModel):
        raise TypeError(
            f"{type(model).__name__} does not implement step(tokens, state) and reorder_state(state, index)"
        )
    if isinstance(bos_id, Tensor):
        if bos_id.dim() != 1 or (batch_size is not None and bos_id.numel() != batch_size):
            raise ValueError(f"bos_id as a tensor must have shape (N,), got {tuple(bos_id.shape)}")
        return bos_id.long()
    first = _first_tensor(state)
    if batch_size is None:
        if hasattr(model, "state_batch_size"):
            batch_size = int(model.state_batch_size(state))
        elif first is not None and first.dim() > 0:
            batch_size = first.size(0)
        else:
            raise ValueError("cannot tell the batch size from the state: pass batch_size=")
    device = first.device if first is not None else torch.device("cpu")
    return torch.full((batch_size,), int(bos_id), dtype=torch.long, device=device)


def check_step_output(log_probs: Tensor, rows: int) -> None:
    if log_probs.dim() != 2 or log_probs.size(0) != rows:
        raise ValueError(
            f"model.step returned log_probs of shape {tuple(log_probs.shape)}, expected ({rows}, V); "
            "if the batch size was guessed from the state, pass batch_size="
        )
