"""Matrix products for the recurrent kernels, routed to the fastest engine on this CPU.

Two engines are available on x86 CPUs: MKL (``torch.mm``, ``F.linear``) and oneDNN, whose inner-product
primitive is reachable only as the private operator ``torch.ops.mkldnn._linear_pointwise``. Which is
faster depends on the dtype and the CPU vendor:

- bfloat16: oneDNN (AVX-512 BF16 / AMX kernels), 3-4x faster than float32 at the kernels' sizes, more
  again when the weight is reordered once into oneDNN's blocked layout (:func:`prepacked_linear`).
- float32 on Intel CPUs: MKL takes its AVX-512 paths, and ``torch.mm`` is as fast as oneDNN or faster
  (measured 205-230 us vs 270 us for (64, 256) x (256, 1024) on one thread).
- float32 on other x86 CPUs (AMD EPYC): MKL dispatches to its AVX2 code while oneDNN uses AVX-512,
  about twice the GFLOP/s.
- a single row (batch 1): MKL, whose matrix-vector path has the least overhead.

``F.linear`` is the fallback whenever the operator is missing or the dtype is not one oneDNN takes
(float64). These functions are for use *inside* hand-written forward/backward passes
(``torch.autograd.Function``): the oneDNN operator has no autograd formula.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor


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


@functools.lru_cache(maxsize=None)
def _intel_cpu() -> bool:
    """Whether the CPU is Intel's (MKL runs its fastest code paths only there)."""
    try:
        return "GenuineIntel" in Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False


def _onednn_faster(dtype: torch.dtype, rows: int, device: torch.device) -> bool:
    """Whether oneDNN beats MKL for ``rows`` rows of this dtype (see the module docstring)."""
    if device.type != "cpu" or rows <= 1 or not onednn_available():
        return False
    if dtype == torch.bfloat16:
        return True
    return dtype == torch.float32 and not _intel_cpu()


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` for a 2-D ``x`` of shape (N, in) and ``weight`` of shape (out, in)."""
    if (
        x.dim() == 2
        and x.dtype == weight.dtype
        and not x.requires_grad
        and not weight.requires_grad
        and _onednn_faster(x.dtype, x.shape[0], x.device)
    ):
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), weight.contiguous(), bias, "none", [], "")
    return F.linear(x, weight, bias)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` for 2-D tensors, through :func:`linear` (oneDNN wants the right factor as (out, in))."""
    return linear(a, b.t())


def prepacked_linear(weight: Tensor, rows: int) -> Callable[..., Tensor]:
    """``product(x, add=None, out=None) = x @ weight.T (+ add)`` for many ``x`` of shape (rows, in).

    For the recurrent matmul of a scan: the weight is laid out for the chosen engine once, not at every
    step (oneDNN's blocked layout; for MKL the transposed copy, which it multiplies fastest). ``add``
    (rows, out) is fused into the product where the engine allows; ``out`` receives the result, in its
    own dtype. ``weight`` must not require grad (call inside a ``torch.autograd.Function`` or no_grad).
    """
    if _onednn_faster(weight.dtype, rows, weight.device):
        packed = torch.ops.mkldnn._reorder_linear_weight(weight.contiguous(), rows)
        plain = torch.ops.mkldnn._linear_pointwise.default
        binary = torch.ops.mkldnn._linear_pointwise.binary

        def product(x: Tensor, add: Tensor | None = None, out: Tensor | None = None) -> Tensor:
            if add is not None and add.dtype == x.dtype:
                result = binary(x, add.contiguous(), packed, None, "add")
            else:
                result = plain(x, packed, None, "none", [], "")
                if add is not None:
                    return torch.add(add, result, out=out)
            return out.copy_(result) if out is not None else result

        return product

    # (in, out): MKL's fastest layout for x @ W^T. bfloat16 is cast up: MKL's bfloat16 path is slower
    # than its float32 one at the row counts that reach here (one row: 46 us vs 11 us for H = 256).
    compute = torch.float32 if weight.dtype == torch.bfloat16 else weight.dtype
    weight_t = weight.t().to(compute).contiguous()

    def product(x: Tensor, add: Tensor | None = None, out: Tensor | None = None) -> Tensor:
        dtype = x.dtype
        if x.dtype != compute:
            x = x.to(compute)
        if out is not None and out.dtype == compute:
            if add is not None and add.dtype == compute:
                return torch.addmm(add, x, weight_t, out=out)
            torch.mm(x, weight_t, out=out)
            return out.add_(add) if add is not None else out
        result = torch.mm(x, weight_t)
        if add is not None:
            result.add_(add)
        return out.copy_(result) if out is not None else result.to(dtype)

    return product
