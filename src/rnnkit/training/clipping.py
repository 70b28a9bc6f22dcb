"""Gradient clipping, and the total gradient norm the trainer logs every step.

Gradients of recurrent networks can explode when backpropagated through many steps (Pascanu et al.
2013). Two remedies, applied in this order:

- by value: each entry clamped, ``g <- clamp(g, -v, v)``;
- by norm: with ``||g|| = sqrt(sum_p ||g_p||^2)`` over all parameters, the whole gradient is rescaled
  ``g <- g * min(1, max_norm / (||g|| + 1e-6))``, which keeps its direction.

The returned norm is that of the raw gradients, before either clipping, so the log shows how large the
gradients really were.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def clip_gradients(
    parameters: Iterable[nn.Parameter], max_norm: float | None = None, max_value: float | None = None
) -> float:
    """Clip the parameters' gradients in place; the total L2 norm of the gradients before clipping."""
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return 0.0
    total_norm = torch.nn.utils.get_total_norm([p.grad for p in params])
    if max_value is not None:
        torch.nn.utils.clip_grad_value_(params, max_value)
    if max_norm is not None:
        if max_value is None:
            torch.nn.utils.clip_grads_with_norm_(params, max_norm, total_norm)
        else:
            torch.nn.utils.clip_grad_norm_(params, max_norm)
    return float(total_norm)
