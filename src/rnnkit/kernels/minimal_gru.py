r"""Fused minimal-GRU kernel: the whole sequence forward, and backpropagation through time written by hand.

The minimal GRU has one update gate and no reset gate (seed 000, eq. 10-14, with c<t> = a<t> = h_t).
Forward, for t = 1..T (gate order u, c; ``m`` is the recurrent mask, 1 if not given; ``k_t`` is the
keep mask, 0 if not given)::

    [a_u, a_c] = xp_t + (h_{t-1} * m) W_hh^T        xp_t = x_t W_ih^T + b_ih + b_hh
    gamma_u = sigmoid(a_u)                          eq. 11
    c~      = tanh(a_c)                             eq. 10
    h~      = gamma_u * c~ + (1 - gamma_u) * h_{t-1}  eq. 12
    h_t     = k_t * h_{t-1} + (1 - k_t) * h~        ys_t = h_t

Backward, for t = T..1. ``dh_t`` is the gradient reaching h_t: dL/dys_t plus what step t+1 sent back
(and dL/dh_T at the last step)::

    dh~  = (1 - k_t) * dh_t
    da_u = dh~ * (c~ - h_{t-1}) * gamma_u * (1 - gamma_u)
    da_c = dh~ * gamma_u * (1 - c~^2)
    da_t = [da_u, da_c]                              = dxp_t
    dh_{t-1} = dL/dys_{t-1} + k_t * dh_t + (1 - gamma_u) * dh~ + m * (da_t W_hh)

After the loop, dW_hh = sum_t da_t^T (h_{t-1} * m) is one matmul over the stacked steps 2..T, whose
h_{t-1} are ys, plus the B-row product of step 1 with h_0 (ys is an output tensor of its own, so that a
caller may modify it in place). In float32 and float64 all matmuls go through ``torch.mm``/``torch.addmm``
(MKL), which on this kind of CPU reaches the FMA peak for these shapes, ahead of oneDNN's inner product;
``addmm`` also folds the additions of xp_t (forward) and dL/dys_{t-1} (backward) into the matmul. Each step's
elementwise work is done right after its matmul, on rows still in cache: computing the factors of dh~
for all steps before the loop was slower at batch 64, hidden 256.

Precision. float32 and float64 run as written. bfloat16 inference uses bfloat16 only where it pays: the
recurrent product (oneDNN with the weight packed once, accumulating in float32; its result, with xp_t
added inside oneDNN, is rounded to bfloat16 once). The gates and the state run in float32 on a copy of
it (bfloat16's tanh and sigmoid are 1.5-5x slower than float32's); h_t is rounded to bfloat16 once per
step, as the next product's input and as the output. Measured, the kernel alone at batch 64, T 100,
H 256, one thread: 0.63x the float32 time (0.86x with MKL's bfloat16 products and bfloat16 gates).
bfloat16 training runs the loops as written, in bfloat16 (MKL's bfloat16 products): a training step of
the kernel at batch 64, H 256 takes 35 ms, against 48 ms in float32 and 57 ms for bfloat16 cast to
float32 and back. A scan with a small recurrent product (at most ``BFLOAT16_IN_FLOAT32_PRODUCTS``
multiply-adds a step) runs whole in float32, the inputs cast up once and ys, h_T cast back to bfloat16
(by autograd for the gradients), except in inference with a weight of at least
:data:`rnnkit.kernels.linear.BFLOAT16_LARGE_WEIGHT` elements, which takes the bfloat16 loop at any
batch. A oneDNN call costs at least 14 us (one row, 16 x 16 weight), more than bfloat16 saves on a small product.
Where the CPU has AVX-512 BF16, bfloat16 inference of at most ``BFLOAT16_NATIVE_ROWS`` rows takes neither
route but the native loop (:mod:`rnnkit.kernels.native`, ``bf16.h``): the product of h_{t-1} (rounded to
bfloat16, as above) with the weight packed once and kept while it is unchanged, by AVX-512 BF16 dot
products summing in float32, xp_t added in float32, the result not rounded; the gates and the state in
float32 as above, h_t rounded to bfloat16 once a step. Measured, the kernel alone at batch 1, T 100,
H 256, one thread: 0.48x the float32 time (1.24x run in float32).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from rnnkit.kernels._common import (
    bfloat16_in_float32, check_dtypes, check_scan, float32_state, loop_threads, needs_grad, per_step, recurrent_grad,
    step_products, to_float32, weight_grad_t,
)
from rnnkit.kernels import native
from rnnkit.kernels.linear import prepacked_linear

_KERNEL = "minimal_gru_scan"
# Up to this many multiply-adds a step (batch x 2H x H) bfloat16 runs in float32 (in inference only if the
# weight is small too: see the module docstring). Measured, the kernel alone, inference, one thread,
# bfloat16 run in float32 against the bfloat16 loop, as multiples of the float32 time: float32 faster up to
# 1.6M (H 256 batch 8: 1.07x against 1.59x; batch 12: 1.07x against 1.21x; H 384 batch 4: 1.04x against
# 1.37x), level at 2.1M (H 256 batch 16: 1.17-1.18x against 1.05-1.09x), bfloat16 faster from 2.4M (H 384
# batch 8: 1.19x against 1.03x; H 256 batch 32: 0.76x; batch 64: 0.63x). Training (a step, forward and
# backward), the bfloat16 loop against bfloat16 run in float32: 1.28x at 1.0M (H 256 batch 8), 0.93x at 2.1M
# (H 256 batch 16; H 512 batch 4: 1.21x), 0.74x at 4.2M (H 256 batch 32; H 512 batch 8: 0.96x). The limit is
# the last point where float32 was faster (1.6M, H 256 batch 12); 2.1M, level in inference and faster in
# training, takes the bfloat16 loop.
BFLOAT16_IN_FLOAT32_PRODUCTS = 3 << 19
# Up to this batch bfloat16 inference runs the native loop (rnnkit.kernels.native, bf16.h), whose product
# (vdpbf16ps) beats MKL's float32 one while a step reads more weight than it computes. Measured, the kernel
# alone, T 100, H 256, one thread, as multiples of the float32 time, native against the route otherwise
# taken (run in float32 up to BFLOAT16_IN_FLOAT32_PRODUCTS, the oneDNN loop above): batch 1 0.48x against
# 1.24x, 2 0.61x / 1.29x, 4 0.73x / 1.18x, 8 0.80x / 1.11x, 12 0.78x / 1.09x, 16 0.81x / 0.83x.
BFLOAT16_NATIVE_ROWS = 12


def minimal_gru_scan(
    xp: torch.Tensor,
    h0: torch.Tensor,
    weight_hh: torch.Tensor,
    *,
    keep: torch.Tensor | None = None,
    recurrent_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a minimal GRU over a whole sequence.

    Args:
        xp: (T, B, 2H) input projections of all steps, gate order u, c, with both biases added.
        h0: (B, H) initial state.
        weight_hh: (2H, H) recurrent weights (rows: update gate, then candidate).
        keep: (T, B, H) or (T, B, 1) float mask; where 1 the state is carried over unchanged (zoneout,
            sequence lengths). Not differentiated.
        recurrent_mask: (B, H) float mask multiplying h_{t-1} where it enters the recurrent matmul
            (variational dropout). Not differentiated.

    All tensors share one dtype. Returns:
        ys (T, B, H), the state after every step, and h_T (B, H).
    """
    check_scan(_KERNEL, xp, h0, weight_hh, 2, recurrent_mask, keep=keep)
    check_dtypes(_KERNEL, {"xp": xp, "h0": h0, "weight_hh": weight_hh, "keep": keep, "recurrent_mask": recurrent_mask})
    training = needs_grad(xp, h0, weight_hh)
    few_bfloat16_rows = xp.dtype == torch.bfloat16 and xp.shape[1] <= BFLOAT16_NATIVE_ROWS
    if not training and few_bfloat16_rows and native.runs_bfloat16(xp):
        return _forward_native_bfloat16(xp, h0, weight_hh, keep, recurrent_mask)
    in_float32 = bfloat16_in_float32(xp, weight_hh, BFLOAT16_IN_FLOAT32_PRODUCTS, training=training)
    if in_float32:
        xp, h0, weight_hh, keep, recurrent_mask = to_float32(xp, h0, weight_hh, keep, recurrent_mask)
    if training:
        ys, h_T = _MinimalGRUScan.apply(xp, h0, weight_hh, keep, recurrent_mask)
    elif native.runs(xp):
        ys, h_T = _forward_native(xp, h0, weight_hh, keep, recurrent_mask)
    else:
        ys, h_T, _ = _forward(xp, h0, weight_hh, keep, recurrent_mask, save=False)
    return (ys.bfloat16(), h_T.bfloat16()) if in_float32 else (ys, h_T)


def _forward(xp, h0, weight_hh, keep, recurrent_mask, *, save: bool):
    """The loop through time. Returns ys, h_T and, if ``save``, every step's [gamma_u, c~]."""
    if xp.dtype == torch.bfloat16 and not save:  # bfloat16 inference has a loop of its own (see Precision)
        return (*_forward_bfloat16(xp, h0, weight_hh, keep, recurrent_mask), None)
    T, B, H2 = xp.shape
    H = H2 // 2
    m = recurrent_mask
    w_t = weight_hh.detach().t().contiguous()  # (H, 2H)
    ys = xp.new_empty(T, B, H)
    hs = [h0.detach(), *ys.unbind(0)]  # hs[t] = h_t
    gates = xp.new_empty(T if save else 1, B, 2 * H)  # (T, B, 2H): [gamma_u, c~] of every step
    ks = keep.unbind(0) if keep is not None else [None] * T
    gs, us, cs = per_step(gates, T), per_step(gates[..., :H], T), per_step(gates[..., H:], T)
    with loop_threads(step_products(B, weight_hh)) as wide:
        for x, h_prev, h, k, g, gamma_u, c_tilde in zip(
            xp.detach().unbind(0), hs[:-1], hs[1:], ks, gs, us, cs
        ):
            h_in = h_prev if m is None else h_prev * m
            with wide:
                torch.addmm(x, h_in, w_t, out=g)  # [a_u, a_c]
            gamma_u.sigmoid_()
            c_tilde.tanh_()
            torch.lerp(h_prev, c_tilde, gamma_u, out=h)  # h~ = gamma_u * c~ + (1 - gamma_u) * h_{t-1}
            if k is not None:
                torch.lerp(h, h_prev, k, out=h)  # h_t = k * h_{t-1} + (1 - k) * h~
    return ys, hs[T].clone(), (ys, gates) if save else None


def _forward_native(xp, h0, weight_hh, keep, recurrent_mask):
    """The forward loop in C++ (:mod:`rnnkit.kernels.native`), float32 inference."""
    with loop_threads(step_products(xp.shape[1], weight_hh)) as wide, wide:
        return native.ops().minimal_gru_forward(
            *native.contiguous(xp, h0), native.transposed(weight_hh), *native.contiguous(keep, recurrent_mask)
        )


def _forward_native_bfloat16(xp, h0, weight_hh, keep, recurrent_mask):
    """The bfloat16 inference loop in C++ at small batch (:mod:`rnnkit.kernels.native`, see Precision)."""
    return native.ops().minimal_gru_forward_bf16(
        *native.contiguous(xp, h0), native.packed_bf16(weight_hh), *native.float32(keep, recurrent_mask)
    )


def _forward_bfloat16(xp, h0, weight_hh, keep, recurrent_mask):
    """The inference loop for bfloat16: the recurrent product in bfloat16, the rest in float32.

    The product goes to oneDNN with the weight packed once and xp_t added to its float32 accumulator,
    and is rounded to bfloat16 once; the gates and the state run in float32 on a copy of it.
    """
    T, B, H2 = xp.shape
    H = H2 // 2
    m = recurrent_mask
    kw = {"dtype": torch.float32, "device": xp.device}
    product = prepacked_linear(weight_hh.detach(), B)  # product(h, xp_t, out=a): a = xp_t + h W_hh^T
    ys = xp.new_empty(T, B, H)  # (T, B, H)
    hs = [h0.detach(), *ys.unbind(0)]  # hs[t] = h_t in bfloat16: the products' inputs, and the outputs
    states = float32_state(h0, T)  # h_{t-1} and h_t in float32, taking turns
    a = torch.empty(B, 2 * H, **kw)  # [a_u, a_c], then [gamma_u, c~]
    gamma_u, c_tilde = a[:, :H], a[:, H:]
    xs = xp.detach().unbind(0)
    ks = keep.to(torch.float32).unbind(0) if keep is not None else None
    with loop_threads(step_products(B, weight_hh)) as wide:
        for t in range(T):
            h_in = hs[t] if m is None else hs[t] * m
            with wide:
                product(h_in, xs[t], out=a)  # [a_u, a_c]
            gamma_u.sigmoid_()
            c_tilde.tanh_()
            torch.lerp(states[t], c_tilde, gamma_u, out=states[t + 1])  # h~ = gamma_u * c~ + (1 - gamma_u) * h_{t-1}
            if ks is not None:
                torch.lerp(states[t + 1], states[t], ks[t], out=states[t + 1])  # h_t = k * h_{t-1} + (1 - k) * h~
            hs[t + 1].copy_(states[t + 1])
    return ys, hs[T].clone()


_TANH_BACKWARD = torch.ops.aten.tanh_backward.grad_input
_SIGMOID_BACKWARD = torch.ops.aten.sigmoid_backward.grad_input


class _MinimalGRUScan(torch.autograd.Function):
    """Forward loop and hand-written backward through time (equations in the module docstring)."""

    @staticmethod
    def forward(ctx, xp, h0, weight_hh, keep, recurrent_mask):
        ys, h_T, (_, gates) = _forward(xp, h0, weight_hh, keep, recurrent_mask, save=True)
        ctx.save_for_backward(h0, ys, gates, weight_hh, keep, recurrent_mask)
        return ys, h_T

    @staticmethod
    @once_differentiable
    def backward(ctx, dys, dh_T):
        h0, ys, gates, weight_hh, keep, m = ctx.saved_tensors
        T, B, H2 = gates.shape
        H = H2 // 2
        gamma_u, c_tilde = gates[..., :H], gates[..., H:]
        w = weight_hh.contiguous()
        da = gates.new_empty(T, B, 2 * H)  # (T, B, 2H): da_t = [da_u, da_c] = dxp_t
        hs = [h0, *ys.unbind(0)]  # hs[t] = h_t
        us, cs = per_step(gamma_u, T), per_step(c_tilde, T)
        das, da_us, da_cs = per_step(da, T), per_step(da[..., :H], T), per_step(da[..., H:], T)
        dys_t = dys.unbind(0)
        ks = keep.unbind(0) if keep is not None else None
        dh = dys_t[T - 1] + dh_T
        with loop_threads(step_products(B, weight_hh)) as wide:
            for t in range(T - 1, -1, -1):
                dht = dh if ks is None else torch.addcmul(dh, dh, ks[t], value=-1)  # dh~ = (1 - k) * dh
                torch.sub(cs[t], hs[t], out=da_us[t]).mul_(dht)  # dh~ * (c~ - h_{t-1})
                _SIGMOID_BACKWARD(da_us[t], us[t], grad_input=da_us[t])  # da_u
                torch.mul(dht, us[t], out=da_cs[t])  # dh~ * gamma_u
                _TANH_BACKWARD(da_cs[t], cs[t], grad_input=da_cs[t])  # da_c
                # dh_{t-1} = dL/dys_{t-1} + m * (da_t W_hh) + (1 - gamma_u) * dh~ + k * dh
                with wide:
                    back = recurrent_grad(das[t], w, m, dys_t[t - 1] if t > 0 else None)
                back.add_(dht).addcmul_(us[t], dht, value=-1)
                if ks is not None:
                    back.addcmul_(ks[t], dh)
                dh = back
        need = ctx.needs_input_grad
        dw = None
        if need[2]:
            dw = weight_grad_t(h0, ys, da, m).t()
        return da if need[0] else None, dh if need[1] else None, dw, None, None
