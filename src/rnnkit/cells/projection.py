"""The input projections of all time steps in one matrix product.

``x_t W_ih^T + b`` does not depend on the state, so a cell's ``scan`` computes it for every step at
once, ``(T*B, I) @ (I, G*H)``, leaving only the recurrent product inside the loop through time.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.kernels.linear import linear


def input_projection(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x (T, B, I)`` to ``x W^T + b`` of shape (T, B, G*H).

    Without autograd the product goes through :func:`rnnkit.kernels.linear.linear` (the engine measured
    fastest for the dtype), which has no backward formula; when a gradient is needed it is a plain
    matmul and an in-place bias add, measured faster than ``F.linear``'s fused ``addmm`` at these shapes.
    """
    T, B, I = x.shape
    x2 = x.reshape(T * B, I)  # (T*B, I)
    needs_grad = torch.is_grad_enabled() and (
        x.requires_grad or weight.requires_grad or (bias is not None and bias.requires_grad)
    )
    if needs_grad:
        out = x2 @ weight.t()  # (T*B, G*H)
        if bias is not None:
            out = out.add_(bias)
    else:
        out = linear(x2.detach(), weight.detach(), None if bias is None else bias.detach())
    return out.view(T, B, weight.shape[0])  # (T, B, G*H); sized explicitly, as T*B may be 0


def summed_bias(bias_ih: Tensor | None, bias_hh: Tensor | None) -> Tensor | None:
    """``b_ih + b_hh``: both biases sit outside every product, so one sum joins the input projection."""
    return None if bias_ih is None else bias_ih + bias_hh
