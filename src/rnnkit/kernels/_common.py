"""Argument checks and small utilities shared by the scan kernels.

Shape legend: T steps, B batch rows, H hidden units, G gate blocks (LSTM 4, GRU 3, minimal GRU 2, RNN 1).
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.kernels.linear import bfloat16_large_weight


def needs_grad(*tensors: Tensor | None) -> bool:
    """Whether a pass over these inputs must record for backward (grad mode on and some input requires grad)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def bfloat16_in_float32(xp: Tensor, weight_hh: Tensor, max_products: int, *, training: bool = False) -> bool:
    """Whether a bfloat16 scan runs whole in float32: its recurrent product is small, at most ``max_products``
    multiply-adds a step (batch rows x elements of ``weight_hh``), and, in inference, its weight is not
    large (:func:`rnnkit.kernels.linear.bfloat16_large_weight`).

    A small bfloat16 product is slower than the same product in float32 (one row of H = 256 against a
    (3H, H) weight: 40 us in MKL's bfloat16 path, 14 us in oneDNN's, 8 us in float32 plus the casts), and
    so are the bfloat16 elementwise operations of the gates; casting the inputs up once and the outputs
    back down once costs far less. Where the products grow, bfloat16's faster arithmetic takes over. The
    limit depends on how a kernel computes in bfloat16, so each kernel measures and names its own. A
    weight whose float32 copy outgrows the L2 cache is faster in bfloat16 even for one row, so inference
    over it keeps bfloat16 at any batch; training (``training=True``) keeps the product limit alone.
    """
    small = xp.dtype == torch.bfloat16 and xp.shape[1] * weight_hh.numel() <= max_products
    return small and (training or not bfloat16_large_weight(weight_hh))


def to_float32(*tensors: Tensor | None) -> list[Tensor | None]:
    """The tensors cast to float32 (differentiably: autograd casts their gradients back), None kept."""
    return [t.float() if t is not None else None for t in tensors]


def check_scan(
    kernel: str,
    xp: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    gates: int,
    recurrent_mask: Tensor | None = None,
    **keeps: Tensor | None,
) -> tuple[int, int, int]:
    """Check ``xp: (T, B, G*H)``, ``h0: (B, H)``, ``weight_hh: (G*H, H)``, the recurrent mask and the keep
    masks (passed by their argument names) agree; return ``(T, B, H)``."""
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
    for name, keep in keeps.items():
        check_keep(kernel, name, keep, steps, batch, hidden)
    check_recurrent_mask(kernel, recurrent_mask, batch, hidden)
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


def alternating(buffer: Tensor, steps: int) -> list[Tensor]:
    """``steps`` views taking turns over the two rows of a ``(2, ...)`` buffer: row ``t % 2`` at step ``t``.

    For a state whose previous and current value are all a pass keeps: the two views are made once
    (indexing ``buffer[t % 2]`` at every step makes a view per step).
    """
    rows = buffer.unbind(0)
    return [rows[t % 2] for t in range(steps)]


def recurrent_grad(d_gates: Tensor, weight_hh: Tensor, m: Tensor | None, dy_prev: Tensor | None) -> Tensor:
    """``dL/dys_{t-1} + m * (d_gates W_hh)``: the gradient reaching ``h_{t-1}`` through the recurrent matmul.

    ``dy_prev`` is None at the first step (h_0 is no output). Without a mask the addition of
    ``dL/dys_{t-1}`` is folded into the matmul (``addmm``). Returns a new tensor the caller may add to in place.
    """
    if m is None and dy_prev is not None:
        return torch.addmm(dy_prev, d_gates, weight_hh)
    back = torch.mm(d_gates, weight_hh)
    if m is not None:
        back.mul_(m)
    if dy_prev is not None:
        back.add_(dy_prev)
    return back


def weight_grad_t(h0: Tensor, ys: Tensor, d_gates: Tensor, m: Tensor | None) -> Tensor:
    """``sum_t (h_{t-1} * m)^T d_gates_t`` as ``(H, G*H)``, the transpose of dW_hh.

    One matmul over the stacked steps 2..T (whose h_{t-1} are ys_1..ys_{T-1}) plus step 1's product with
    h_0: ys is an output tensor of its own, so it cannot hold h_0. Computed transposed because that is
    MKL's fast layout for these operands (both are read with the long T*B dimension contiguous).
    """
    T, B, GH = d_gates.shape
    H = h0.shape[1]
    dw_t = torch.mm((h0 if m is None else h0 * m).t(), d_gates[0])
    if T > 1:
        h_in = ys[:-1] if m is None else ys[:-1] * m  # (T-1, B, H)
        dw_t.addmm_(h_in.reshape((T - 1) * B, H).t(), d_gates[1:].reshape((T - 1) * B, GH))
    return dw_t
