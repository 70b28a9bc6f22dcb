"""Argument checks and small utilities shared by the scan kernels.

Shape legend: T steps, B batch rows, H hidden units, G gate blocks (LSTM 4, GRU 3, minimal GRU 2, RNN 1).
"""

from __future__ import annotations

import torch
from torch import Tensor


def needs_grad(*tensors: Tensor | None) -> bool:
    """Whether a pass over these inputs must record for backward (grad mode on and some input requires grad)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def check_scan(kernel: str, xp: Tensor, h0: Tensor, weight_hh: Tensor, gates: int) -> tuple[int, int, int]:
    """Check ``xp: (T, B, G*H)``, ``h0: (B, H)``, ``weight_hh: (G*H, H)`` agree; return ``(T, B, H)``."""
    if xp.dim() != 3:
        raise ValueError(f"{kernel}: xp must be (T, B, {gates}*H), got shape {tuple(xp.shape)}")
    if h0.dim() != 2:
        raise ValueError(f"{kernel}: h0 must be (B, H), got shape {tuple(h0.shape)}")
    steps, batch, width = xp.shape
    hidden = h0.shape[1]
    if steps == 0:
        raise ValueError(f"{kernel}: xp has no time steps (shape {tuple(xp.shape)})")
    if width != gates * hidden or h0.shape[0] != batch:
        raise ValueError(
            f"{kernel}: xp {tuple(xp.shape)} does not match h0 {tuple(h0.shape)}: "
            f"expected xp of shape ({steps}, {h0.shape[0]}, {gates * hidden})"
        )
    if tuple(weight_hh.shape) != (gates * hidden, hidden):
        raise ValueError(
            f"{kernel}: weight_hh must be ({gates * hidden}, {hidden}), got {tuple(weight_hh.shape)}"
        )
    return steps, batch, hidden


def check_vector(kernel: str, name: str, value: Tensor | None, size: int) -> None:
    """Check an optional per-unit parameter has shape ``(size,)``."""
    if value is not None and tuple(value.shape) != (size,):
        raise ValueError(f"{kernel}: {name} must have shape ({size},), got {tuple(value.shape)}")


def check_keep(kernel: str, name: str, keep: Tensor | None, steps: int, batch: int, hidden: int) -> None:
    """Check a keep mask is ``(T, B, H)`` or broadcastable to it with size 1 in the batch or unit dimension."""
    if keep is None:
        return
    shape = tuple(keep.shape)
    if len(shape) != 3 or shape[0] != steps or shape[1] not in (1, batch) or shape[2] not in (1, hidden):
        raise ValueError(
            f"{kernel}: {name} must be ({steps}, {batch}, {hidden}) or ({steps}, {batch}, 1), got {shape}"
        )


def check_recurrent_mask(kernel: str, mask: Tensor | None, batch: int, hidden: int) -> None:
    """Check a recurrent (variational dropout) mask is ``(B, H)``."""
    if mask is not None and tuple(mask.shape) != (batch, hidden):
        raise ValueError(f"{kernel}: recurrent_mask must be ({batch}, {hidden}), got {tuple(mask.shape)}")


def per_step(buffer: Tensor, steps: int) -> list[Tensor]:
    """The ``steps`` per-step views of a ``(T, ...)`` buffer, or one ``(1, ...)`` scratch buffer reused at every step.

    ``unbind`` makes all views in one call; indexing ``buffer[t]`` inside a loop costs a view per step and,
    on tensors that require grad, makes the backward pass quadratic in T.
    """
    if buffer.shape[0] == steps:
        return list(buffer.unbind(0))
    return [buffer[0]] * steps
