"""Losses for sequence models.

A sequence model gives the probability of a target sequence as the product of its step probabilities,
``p(y_1..y_T | x) = prod_t p(y_t | y_<t, x)``, and is trained by maximising the (conditional)
log-likelihood ``sum_t log p(y_t | y_<t, x)``, i.e. minimising the negative log-likelihood (NLL) of the
valid (non-padding) target tokens:

.. math::

    \\mathrm{NLL} = -\\sum_{b} \\sum_{t < \\mathrm{len}_b} \\log p(y_{b,t} \\mid y_{b,<t}, x_b)

With label smoothing ``eps`` each token's target is ``(1 - eps)`` on the true token plus ``eps`` spread
evenly over the vocabulary (Szegedy et al. 2016), so the per-token loss is
``(1 - eps) * (-log p_y) + eps * mean_v(-log p_v)`` (torch's ``cross_entropy`` convention).

Shapes: ``B`` batch, ``T`` target length, ``V`` vocabulary.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

Reduction = Literal["mean", "sum", "sequence", "none"]


def target_mask(targets: Tensor, mask: Tensor | None = None, pad_id: int | None = None) -> Tensor:
    """The bool mask ``(B, T)`` of valid target positions: ``mask`` if given, else ``targets != pad_id``,
    else all positions."""
    if mask is not None:
        if mask.dtype != torch.bool or mask.shape != targets.shape:
            raise ValueError(
                f"mask must be a bool tensor of the targets' shape {tuple(targets.shape)}, "
                f"got {mask.dtype} {tuple(mask.shape)}"
            )
        return mask
    if pad_id is not None:
        return targets != pad_id
    return torch.ones_like(targets, dtype=torch.bool)


def token_nll(
    logits: Tensor, targets: Tensor, mask: Tensor | None = None, *, pad_id: int | None = None,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Per-token negative log-likelihood ``(B, T)``, exactly 0 at padding.

    ``logits (B, T, V)`` may also be log-probabilities (``log_softmax`` leaves those unchanged);
    ``targets (B, T)`` are token ids.
    """
    if logits.dim() != targets.dim() + 1 or logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"logits must have shape targets.shape + (V,) = {tuple(targets.shape)} + (V,), got {tuple(logits.shape)}"
        )
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    valid = target_mask(targets, mask, pad_id)
    log_p = F.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    # Padding may hold any id (even out of range), so gather at a safe id and zero it afterwards.
    safe_targets = targets.masked_fill(~valid, 0)
    nll = -log_p.gather(-1, safe_targets.unsqueeze(-1)).squeeze(-1)  # (B, T)
    if label_smoothing > 0.0:
        nll = (1.0 - label_smoothing) * nll - label_smoothing * log_p.mean(-1)
    return nll.masked_fill(~valid, 0.0)


def sequence_nll(
    logits: Tensor, targets: Tensor, mask: Tensor | None = None, *, pad_id: int | None = None,
    reduction: Reduction = "mean", label_smoothing: float = 0.0,
) -> Tensor:
    """Masked sequence negative log-likelihood.

    ``reduction``: ``"mean"`` per valid token (the training loss; ``exp`` of it is the perplexity),
    ``"sum"`` over all valid tokens, ``"sequence"`` one sum per sequence ``(B,)`` (``-log p(y | x)``),
    ``"none"`` per token ``(B, T)``.
    """
    nll = token_nll(logits, targets, mask, pad_id=pad_id, label_smoothing=label_smoothing)  # (B, T)
    if reduction == "none":
        return nll
    if reduction == "sequence":
        return nll.sum(1)
    if reduction == "sum":
        return nll.sum()
    if reduction == "mean":
        count = target_mask(targets, mask, pad_id).sum()
        return nll.sum() / count.clamp(min=1)
    raise ValueError(f"reduction must be one of 'mean', 'sum', 'sequence', 'none', got {reduction!r}")
