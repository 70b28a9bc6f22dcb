"""Matrix products for the recurrent kernels, routed to the fastest engine on this CPU.

Two engines are available on x86 CPUs: MKL (``torch.mm``, ``F.linear``) and oneDNN, whose inner-product
primitive is reachable only as the private operator ``torch.ops.mkldnn._linear_pointwise``. Which is
faster depends on the dtype and the CPU vendor:

- bfloat16: oneDNN (AVX-512 BF16 / AMX kernels), 3-4x faster than float32 at the kernels' sizes, more
  again when the weight is reordered once into oneDNN's blocked layout (:func:`prepacked_linear`). Only
  on CPUs where PyTorch reports oneDNN bfloat16 support (``torch.ops.mkldnn._is_mkldnn_bf16_supported``):
  elsewhere oneDNN would emulate it, and the products go to MKL in float32.
- float32 on Intel CPUs: MKL takes its AVX-512 paths, and ``torch.mm`` is as fast as oneDNN or faster
  (measured 205-230 us vs 270 us for (64, 256) x (256, 1024) on one thread).
- float32 on other x86 CPUs (AMD EPYC): MKL dispatches to its AVX2 code while oneDNN uses AVX-512,
  about twice the GFLOP/s.
- a single row (batch 1): MKL, whose matrix-vector path has the least overhead (a oneDNN call costs
  at least 14 us: one row against a 16 x 16 weight), except for a large bfloat16 weight (:data:`BFLOAT16_LARGE_WEIGHT`),
  whose float32 copy no longer fits in the L2 cache.

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


# Elements from which a bfloat16 weight goes to oneDNN even for a single row: its float32 copy (what MKL
# multiplies, 4 bytes an element) then exceeds this machine's 2 MB L2 cache, and reading it from memory
# at every step costs more than oneDNN's bfloat16 call. Measured, one row, one thread, float32 against
# bfloat16: (1152, 384) 22 us against 26 us; (1024, 512) 38 against 28; (1536, 512) 98 against 49;
# (1024, 1024) 148 against 82. (The GRU's (768, 256) weight at H = 256: 8-12 against 21.)
BFLOAT16_LARGE_WEIGHT = 1 << 19


@functools.lru_cache(maxsize=None)
def onednn_bfloat16() -> bool:
    """Whether oneDNN runs bfloat16 natively on this CPU (AVX-512 or newer), as PyTorch itself checks."""
    try:
        return onednn_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def bfloat16_large_weight(weight: Tensor) -> bool:
    """Whether ``weight`` is bfloat16 and large enough that its products are faster in bfloat16 through oneDNN
    even for a single row (at least :data:`BFLOAT16_LARGE_WEIGHT` elements)."""
    return weight.dtype == torch.bfloat16 and weight.numel() >= BFLOAT16_LARGE_WEIGHT and onednn_bfloat16()


def onednn_faster(dtype: torch.dtype, rows: int, device: torch.device, weight_elements: int = 0) -> bool:
    """Whether oneDNN beats MKL for ``rows`` rows of this dtype against a weight of ``weight_elements``
    elements (see the module docstring)."""
    if device.type != "cpu" or not onednn_available():
        return False
    if dtype == torch.bfloat16:
        return onednn_bfloat16() and (rows > 1 or weight_elements >= BFLOAT16_LARGE_WEIGHT)
    return rows > 1 and dtype == torch.float32 and not _intel_cpu()


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` for a 2-D ``x`` of shape (N, in) and ``weight`` of shape (out, in)."""
    if (
        x.dim() == 2
        and x.dtype == weight.dtype
        and not x.requires_grad
        and not weight.requires_grad
        and onednn_faster(x.dtype, x.shape[0], x.device)
    ):
        return torch.ops.mkldnn._linear_pointwise(x.contiguous(), weight.contiguous(), bias, "none", [], "")
    return F.linear(x, weight, bias)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b`` for 2-D tensors, through :func:`linear` (oneDNN wants the right factor as (out, in))."""
    return linear(a, b.t())


def prepacked_linear(weight: Tensor, rows: int, bias: Tensor | None = None) -> Callable[..., Tensor]:
    """``product(x, add=None, out=None) = x @ weight.T (+ bias) (+ add)`` for many ``x`` of shape (rows, in).

    For the recurrent matmul of a scan: the weight is laid out for the chosen engine once, not at every
    step (oneDNN's blocked layout; for MKL the transposed copy, which it multiplies fastest). ``bias``
    (out,), in ``weight``'s dtype, and ``add`` (rows, out) are fused into the product where the engine
    allows (oneDNN adds both to its float32 accumulator before rounding to bfloat16 once); ``out``
    receives the result, in its own dtype. ``weight`` must not require grad (call inside a
    ``torch.autograd.Function`` or no_grad).
    """
    if onednn_faster(weight.dtype, rows, weight.device, weight.numel()):
        packed = torch.ops.mkldnn._reorder_linear_weight(weight.contiguous(), rows)
        plain = torch.ops.mkldnn._linear_pointwise.default
        binary = torch.ops.mkldnn._linear_pointwise.binary

        def product(x: Tensor, add: Tensor | None = None, out: Tensor | None = None) -> Tensor:
            if add is not None and add.dtype == x.dtype:
                result = binary(x, add.contiguous(), packed, bias, "add")
            else:
                result = plain(x, packed, bias, "none", [], "")
                if add is not None:
                    return torch.add(add, result, out=out)
            return out.copy_(result) if out is not None else result

        return product

    # (in, out): MKL's fastest layout for x @ W^T. bfloat16 is cast up: MKL's bfloat16 path is slower
    # than its float32 one at the row counts and weights that reach here (one row against the LSTM's
    # (1024, 256) weight at H = 256: 46 us against 10; the GRU's (768, 256): 38-42 against 8-12).
    compute = torch.float32 if weight.dtype == torch.bfloat16 else weight.dtype
    weight_t = weight.t().to(compute).contiguous()
    bias_c = bias.to(compute) if bias is not None else None

    def product(x: Tensor, add: Tensor | None = None, out: Tensor | None = None) -> Tensor:
        dtype = x.dtype
        if x.dtype != compute:
            x = x.to(compute)
        if out is not None and out.dtype == compute:
            # one addend folded into addmm (add, else the bias, broadcast over the rows), any other added after
            first = add if add is not None and add.dtype == compute else bias_c
            if first is None:
                torch.mm(x, weight_t, out=out)
            else:
                torch.addmm(first, x, weight_t, out=out)
            if add is not None and first is not add:
                out.add_(add)
            if bias_c is not None and first is not bias_c:
                out.add_(bias_c)
            return out
        result = torch.mm(x, weight_t) if bias_c is None else torch.addmm(bias_c, x, weight_t)
        if add is not None:
            result.add_(add)
        return out.copy_(result) if out is not None else result.to(dtype)

    return product
