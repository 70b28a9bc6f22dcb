"""What the trainer is given besides a model: a task that turns a batch into a loss, and batch sources.

The trainer knows nothing of a model's class or of a data set. It talks to them through two small
contracts, written here as ``Protocol`` classes so any object with these methods plugs in.

A **task** computes one step::

    task.step(model, batch, carry) -> StepOutput(loss, logs, carry)
    task.step(model, batch, carry, teacher_forcing=ratio)   # when `step` declares that keyword

``carry`` is the recurrent state handed from one batch to the next for truncated backpropagation through
time (the batches are then consecutive k-step chunks of long sequences); ``None`` otherwise. The trainer
detaches the carry after every optimizer step, so no graph links two batches, and resets it to ``None``
at the start of every epoch. A task whose ``step`` accepts ``teacher_forcing`` receives the scheduled
probability of feeding the true previous token (scheduled sampling) at every training step, and ``1.0``
during evaluation.

A **batch source** is deterministic and resumable::

    source.num_batches(epoch) -> int
    source.batches(epoch, start=0) -> Iterator[batch]

It yields the same batches in the same order for the same (seed, epoch), beginning at index ``start``,
so a run resumed mid-epoch sees exactly the batches an uninterrupted run would. A batch with a
``.to(device)`` method is moved to the trainer's device.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn


@dataclass
class StepOutput:
    """What a task's ``step`` returns."""

    loss: torch.Tensor  # scalar the trainer backpropagates (training) or averages (evaluation)
    logs: dict[str, float] = field(default_factory=dict)  # extra numbers to log and average, e.g. accuracy
    carry: Any = None  # recurrent state for the next batch (truncated BPTT); None when batches are independent
    weight: float = 1.0  # how many items `loss` and `logs` average over, so evaluation averages per item


@runtime_checkable
class Task(Protocol):
    def step(self, model: nn.Module, batch: Any, carry: Any) -> StepOutput: ...


@runtime_checkable
class BatchSource(Protocol):
    def num_batches(self, epoch: int) -> int: ...

    def batches(self, epoch: int, start: int = 0) -> Iterator[Any]: ...


def takes_teacher_forcing(task: Task) -> bool:
    """Whether ``task.step`` accepts the ``teacher_forcing`` keyword."""
    parameters = inspect.signature(task.step).parameters.values()
    return any(p.name == "teacher_forcing" or p.kind is p.VAR_KEYWORD for p in parameters)
