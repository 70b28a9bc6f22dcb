"""Matrix products for the recurrent kernels, routed to the fastest engine on this CPU.

On AVX-512 machines PyTorch's ``torch.mm`` takes MKL's AVX2 path, while oneDNN's inner-product
primitive uses AVX-512 and reaches about twice the GFLOP/s. oneDNN's fp32 linear is reachable only as
the private operator ``torch.ops.mkldnn._linear_pointwise``; it is kept behind this one function, with
``torch.nn.functional.linear`` as the fallback whenever the operator is missing, the dtype is not one
oneDNN takes (float64), or the batch is a single row (where MKL is faster).

These functions are for use *inside* hand-written forward/backward passes (``torch.autograd.Function``):
the oneDNN operator has no autograd formula.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

_ONEDNN_DTYPES = (torch.float32, torch.bfloat16)


@functools.lru_cache(maxsize=None)
def onednn_available() -> bool:
    """Whether the private oneDNN linear operator exists and gives the same numbers as ``F.linear``."""
    try:
        op = torch.ops.mkldnn._linear_pointwise
        x = torch.arange(6.0).reshape(2, 3)
        w = torch.arange(12.0).reshape(4, 3) / 7
        return bool(torch.allclose(op(x, w, None, "none", [], ""), F.linear(x, w)))
    except (AttributeError, RuntimeError):
        return False


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """``x @ weight.T + bias`` for a 2-D ``x`` of shape (N, in) and ``weight`` of shape (out, in)."""
    if (
        x.dim() == 2
        and x.shape[0] > 1
        and x.dtype in _ONEDNN_DTYPES
        and x.dtype == weight.dtype
        and x.device.type == "cpu"
        and not x.requires_grad
        and not weight.requires_grad
        and onednn_available()
    ):
        return torch.ops.mkldnn._linear_pointwise(
            x.contiguous(), weight.contiguous(), bias, "none", [], ""
        )
    return F.linear(x, weight, bias)


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` for 2-D tensors, through :func:`linear` (oneDNN wants the right factor as (out, in))."""
    return linear(a, b.t())
