"""Padding masks and the masked softmax shared by every attention score function.

A mask is a bool tensor ``(B, S)`` in which ``True`` marks a valid (non-padding) position.
"""

from __future__ import annotations

import torch
from torch import Tensor


def lengths_to_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """Turn sequence lengths ``(B,)`` into a bool mask ``(B, S)``, ``True`` where ``t < lengths[b]``.

    ``max_len`` defaults to ``lengths.max()``; pass the padded length when the batch is longer.
    """
    if lengths.dim() != 1:
        raise ValueError(f"lengths must have shape (B,), got {tuple(lengths.shape)}")
    if max_len is None:
        max_len = int(lengths.max()) if lengths.numel() else 0
    positions = torch.arange(max_len, device=lengths.device)  # (S,)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)  # (B, S)


def masked_softmax(scores: Tensor, mask: Tensor | None) -> Tensor:
    """Softmax over the last axis of ``scores (B, S)`` that gives exactly 0 where ``mask`` is False.

    Masked scores are replaced by the dtype's most negative finite number rather than ``-inf``, so a row
    with no valid position yields zeros instead of NaN (and no NaN gradient); such a row's context is 0.
    """
    if mask is None:
        return torch.softmax(scores, dim=-1)
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must be a bool tensor (True = valid position), got dtype {mask.dtype}")
    if mask.shape != scores.shape:
        raise ValueError(f"mask has shape {tuple(mask.shape)} but the scores have shape {tuple(scores.shape)}")
    filled = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    weights = torch.softmax(filled, dim=-1)
    # exp(min - max) underflows to exactly 0 whenever the row has a valid position; the fill below makes
    # fully padded rows 0 as well instead of uniform.
    return weights.masked_fill(~mask, 0.0)
