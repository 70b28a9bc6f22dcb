r"""Fused GRU kernel: the whole sequence forward, and backpropagation through time written by hand.

Forward, for t = 1..T (gate order r, z, n as in ``torch.nn.GRU``; ``m`` is the recurrent mask, 1 if not
given; ``k_t`` is the keep mask, 0 if not given)::

    [x_r, x_z, x_n] = xp_t                       x W_i*^T + b_i*, with b_hr, b_hz also added into x_r, x_z
    [h_r, h_z, h_n] = (h_{t-1} * m) W_hh^T
    r   = sigmoid(x_r + h_r)
    z   = sigmoid(x_z + h_z)
    n   = tanh(x_n + r * (h_n + b_hn))
    h~  = (1 - z) * n + z * h_{t-1}
    h_t = k_t * h_{t-1} + (1 - k_t) * h~          ys_t = h_t

Backward, for t = T..1. ``dh_t`` is the gradient reaching h_t: dL/dys_t plus what step t+1 sent back
(and dL/dh_T at the last step)::

    dh~  = (1 - k_t) * dh_t
    dx_n = dh~ * (1 - z) * (1 - n^2)                 gradient of x_n + r * (h_n + b_hn)
    dh_n = dx_n * r                                  the step's share of db_hn
    dx_r = dx_n * (h_n + b_hn) * r * (1 - r)         = dh_r
    dx_z = dh~ * (h_{t-1} - n) * z * (1 - z)         = dh_z
    dh_{t-1} = dL/dys_{t-1} + k_t * dh_t + z * dh~ + m * ([dx_r, dx_z, dh_n] W_hh)

After the loop, dW_hh = sum_t [dx_r, dx_z, dh_n]_t^T (h_{t-1} * m) is one matmul over the stacked steps
2..T, whose h_{t-1} are ys, plus the B-row product of step 1 with h_0 (ys is an output tensor of its own,
so that a caller may modify it in place); db_hn is the sum of dh_n over time and batch.

Layout. The recurrent matmul of a step is two matmuls, one for the gates r, z with x_r, x_z folded in
(``addmm``), one for h_n + b_hn, so the sigmoid runs in place on a contiguous block; their outputs
[r, z] and h_n + b_hn are what the backward pass reads. (One product of 3H columns, added in place to
a buffer first given [x_r, x_z, b_hn], measured 3-5% faster at batch 1 and 32 but 1-7% slower at batch
64, hidden 256.) The backward pass writes each step's gradients
as [dh_n, dx_r, dx_z, dx_n]: its first 3H columns, against the recurrent weight with its rows reordered
to (n, r, z), give the matmuls for dh_{t-1} and dW_hh, and its last 3H columns are dxp, so neither needs
a copy. In float32 and float64 all matmuls go through ``torch.mm``/``torch.addmm`` (MKL), which on this
kind of CPU reaches the FMA peak for these shapes, ahead of oneDNN's inner product (bfloat16 inference
makes one product of 3H columns: see Precision). Per-step views of every buffer are made before the loops
(``unbind``), and the aten backward formulas are called through their bound overloads: both cut the
Python cost of a step, which at small batch is as large as its arithmetic.

Precision. float32 and float64 run as written. bfloat16 inference uses bfloat16 only where it pays: the
recurrent product, one product of 3H columns (oneDNN with the weight packed once and b_hn added as the
bias of the n columns, accumulating in float32; its result is rounded to bfloat16 once). That result
and xp_t are converted to float32 once each, and the gates, n and the state run in float32 (bfloat16's
tanh and sigmoid are 1.5-5x slower than float32's, and an operation mixing bfloat16 with float32
converts its inputs into temporaries); h_t is rounded to bfloat16 once per step, as the next product's
input and as the output. Measured, ``GRU`` layer at batch 64, T 100, H 256, one thread: 0.53x the
float32 time (0.65x with MKL's bfloat16 products, two a step, and bfloat16 gates). bfloat16 training
runs the loops as written, in bfloat16 (MKL's bfloat16 products): a training step of the kernel at batch
64, H 256 takes 53 ms, against 78 ms in float32 and 86 ms for bfloat16 cast to float32 and back. A scan
with a small recurrent product (at most ``BFLOAT16_IN_FLOAT32_PRODUCTS`` multiply-adds a step) runs
whole in float32, the inputs cast up once and ys, h_T cast back to bfloat16 (by autograd for the
gradients), except in inference with a weight of at least
:data:`rnnkit.kernels.linear.BFLOAT16_LARGE_WEIGHT` elements, which takes the bfloat16 loop at any
batch. A oneDNN call costs at least 14 us (one row, 16 x 16 weight), more than bfloat16 saves on a small
product: at batch 1 (768 x 256 weight) 21.4 us a step against 7.8 us for MKL's float32 product. Where the CPU has
AVX-512 BF16, bfloat16 inference of at most ``BFLOAT16_NATIVE_ROWS`` rows takes neither route but the
native loop (:mod:`rnnkit.kernels.native`, ``bf16.h``): the product of h_{t-1} (rounded to bfloat16, as
above) with the weight packed once and kept while it is unchanged, by AVX-512 BF16 dot products summing
in float32 (4.6 us a step at batch 1, H 256), its result not rounded; b_hn, the gates, n and the state in
float32 as above, h_t rounded to bfloat16 once a step. Measured, ``GRU`` layer at batch 1, T 100, I 128,
H 256, one thread (``benchmarks/rnn_speed.py``): 0.58-0.60x the float32 time (1.25x run in float32); the
kernel alone 0.48x (1.21x).
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from rnnkit.kernels._common import (
    bfloat16_in_float32, check_dtypes, check_scan, check_vector, float32_state, loop_threads, needs_grad, per_step,
    recurrent_grad, step_products, to_float32, weight_grad_t,
)
from rnnkit.kernels import native
from rnnkit.kernels.linear import prepacked_linear

_KERNEL = "gru_scan"
# Up to this many multiply-adds a step (batch x 3H x H) bfloat16 runs in float32 (in inference only if the
# weight is small too: see the module docstring). Measured, the kernel alone, inference, one thread,
# bfloat16 run in float32 against the bfloat16 loop, as multiples of the float32 time: float32 faster at
# 1.6M (H 256 batch 8: 1.03-1.09x against 1.15-1.17x), bfloat16 faster from 2.4M (H 256 batch 12: 0.93x
# against 1.34x; batch 16: 0.82x; batch 32: 0.68x; batch 64: 0.62x). Between 0.9M and 1.8M the rule is not
# exact: H 384 batch 2 and 4 were 0.95x and 0.89x in bfloat16 against 1.03x and 1.07x in float32. A one-row
# scan of a weight of 786K elements (H 512) takes the bfloat16 loop: 0.61x against 1.16x. Training (a step,
# forward and backward), the bfloat16 loop against bfloat16 run in float32: 1.18x at 1.6M (H 256 batch 8),
# 0.77x at 3.1M (H 256 batch 16; H 512 batch 4: 1.01x), 0.74x at 6.3M.
BFLOAT16_IN_FLOAT32_PRODUCTS = 1 << 21
# Up to this batch bfloat16 inference runs the native loop (rnnkit.kernels.native, bf16.h), whose product
# (vdpbf16ps) beats MKL's float32 one while a step reads more weight than it computes. Measured, the kernel
# alone, T 100, H 256, one thread, as multiples of the float32 time, native against the route otherwise
# taken (run in float32 up to BFLOAT16_IN_FLOAT32_PRODUCTS, the oneDNN loop above): batch 1 0.48x against
# 1.21x, 2 0.63x / 1.16x, 4 0.73x / 1.39x, 8 0.79x / 1.10x, 12 0.78x / 0.67x, 16 0.80x / 0.56x. At H 512 and
# 1024 the native loop gains more (batch 1 0.20x and 0.49x, batch 4 0.51x and 0.53x).
BFLOAT16_NATIVE_ROWS = 8


def gru_scan(
    xp: torch.Tensor,
    h0: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_hn: torch.Tensor | None = None,
    *,
    keep: torch.Tensor | None = None,
    recurrent_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a GRU over a whole sequence.

    Args:
        xp: (T, B, 3H) input projections of all steps, gate order r, z, n; b_ih (all gates) and
            b_hr, b_hz already added.
        h0: (B, H) initial state.
        weight_hh: (3H, H) recurrent weights, ``torch.nn.GRU`` layout.
        bias_hn: (H,) the recurrent bias of the candidate n, which sits inside ``r * (...)``; None for none.
        keep: (T, B, H) or (T, B, 1) float mask; where 1 the state is carried over unchanged (zoneout,
            sequence lengths). Not differentiated.
        recurrent_mask: (B, H) float mask multiplying h_{t-1} where it enters the recurrent matmul
            (variational dropout). Not differentiated.

    All tensors share one dtype. Returns:
        ys (T, B, H), the state after every step, and h_T (B, H).
    """
    _, _, hidden = check_scan(_KERNEL, xp, h0, weight_hh, 3, recurrent_mask, keep=keep)
    check_vector(_KERNEL, "bias_hn", bias_hn, hidden)
    check_dtypes(
        _KERNEL,
        {"xp": xp, "h0": h0, "weight_hh": weight_hh, "bias_hn": bias_hn, "keep": keep, "recurrent_mask": recurrent_mask},
    )
    training = needs_grad(xp, h0, weight_hh, bias_hn)
    few_bfloat16_rows = xp.dtype == torch.bfloat16 and xp.shape[1] <= BFLOAT16_NATIVE_ROWS
    if not training and few_bfloat16_rows and native.runs_bfloat16(xp):
        return _forward_native_bfloat16(xp, h0, weight_hh, bias_hn, keep, recurrent_mask)
    in_float32 = bfloat16_in_float32(xp, weight_hh, BFLOAT16_IN_FLOAT32_PRODUCTS, training=training)
    if in_float32:
        xp, h0, weight_hh, bias_hn, keep, recurrent_mask = to_float32(xp, h0, weight_hh, bias_hn, keep, recurrent_mask)
    if training:
        ys, h_T = _GRUScan.apply(xp, h0, weight_hh, bias_hn, keep, recurrent_mask)
    elif native.runs(xp):
        ys, h_T = _forward_native(xp, h0, weight_hh, bias_hn, keep, recurrent_mask)
    else:
        ys, h_T, _ = _forward(xp, h0, weight_hh, bias_hn, keep, recurrent_mask, save=False)
    return (ys.bfloat16(), h_T.bfloat16()) if in_float32 else (ys, h_T)


def _forward(xp, h0, weight_hh, bias_hn, keep, recurrent_mask, *, save: bool):
    """The loop through time. Returns ys, h_T and, if ``save``, what the backward pass needs."""
    if xp.dtype == torch.bfloat16 and not save:  # bfloat16 inference has a loop of its own (see Precision)
        return (*_forward_bfloat16(xp, h0, weight_hh, bias_hn, keep, recurrent_mask), None)
    T, B, H3 = xp.shape
    H = H3 // 3
    m = recurrent_mask
    w = weight_hh.detach()
    w_rz_t, w_n_t = w[: 2 * H].t().contiguous(), w[2 * H :].t().contiguous()  # (H, 2H), (H, H)
    b_hn = bias_hn.detach() if bias_hn is not None else None
    rows = T if save else 1
    ys = xp.new_empty(T, B, H)
    rz_buf = xp.new_empty(rows, B, 2 * H)  # (T, B, 2H): [r, z]
    hn_buf = xp.new_empty(rows, B, H)  # (T, B, H): h_n + b_hn
    n_buf = xp.new_empty(rows, B, H)  # (T, B, H): n
    hs = [h0.detach(), *ys.unbind(0)]  # hs[t] = h_t
    rz, hn, n = per_step(rz_buf, T), per_step(hn_buf, T), per_step(n_buf, T)
    r, z = per_step(rz_buf[..., :H], T), per_step(rz_buf[..., H:], T)
    xp = xp.detach()
    x_rz, x_n = xp[..., : 2 * H].unbind(0), xp[..., 2 * H :].unbind(0)
    ks = keep.unbind(0) if keep is not None else None
    with loop_threads(step_products(B, weight_hh)) as wide:
        for t in range(T):
            h_in = hs[t] if m is None else hs[t] * m
            with wide:
                torch.addmm(x_rz[t], h_in, w_rz_t, out=rz[t])  # [a_r, a_z]
                if b_hn is None:
                    torch.mm(h_in, w_n_t, out=hn[t])  # h_n
                else:
                    torch.addmm(b_hn, h_in, w_n_t, out=hn[t])  # h_n + b_hn
            rz[t].sigmoid_()  # [r, z]
            torch.addcmul(x_n[t], r[t], hn[t], out=n[t]).tanh_()  # n
            torch.lerp(n[t], hs[t], z[t], out=hs[t + 1])  # h~ = (1 - z) * n + z * h_{t-1}
            if ks is not None:
                torch.lerp(hs[t + 1], hs[t], ks[t], out=hs[t + 1])  # h_t = k * h_{t-1} + (1 - k) * h~
    return ys, hs[T].clone(), (ys, rz_buf, hn_buf, n_buf) if save else None


def _forward_native(xp, h0, weight_hh, bias_hn, keep, recurrent_mask):
    """The forward loop in C++ (:mod:`rnnkit.kernels.native`), float32 inference."""
    with loop_threads(step_products(xp.shape[1], weight_hh)) as wide, wide:
        return native.ops().gru_forward(
            *native.contiguous(xp, h0), native.transposed(weight_hh), *native.contiguous(bias_hn, keep, recurrent_mask)
        )


def _forward_native_bfloat16(xp, h0, weight_hh, bias_hn, keep, recurrent_mask):
    """The bfloat16 inference loop in C++ at small batch (:mod:`rnnkit.kernels.native`, see Precision)."""
    return native.ops().gru_forward_bf16(
        *native.contiguous(xp, h0), native.packed_bf16(weight_hh), *native.float32(bias_hn, keep, recurrent_mask)
    )


def _forward_bfloat16(xp, h0, weight_hh, bias_hn, keep, recurrent_mask):
    """The inference loop for bfloat16: the recurrent product in bfloat16, the rest in float32.

    One product of 3H columns through oneDNN, the weight packed once and b_hn fused as the bias of the
    n columns, rounded to bfloat16 once; it and xp_t are copied to float32 (one conversion each), and
    the gates, n and the state are computed in float32 from there (bfloat16's tanh and sigmoid are
    1.5-5x slower than float32's; adding bfloat16 to float32 converts inside every operation).
    """
    T, B, H3 = xp.shape
    H = H3 // 3
    m = recurrent_mask
    kw = {"dtype": torch.float32, "device": xp.device}
    bias = torch.cat([bias_hn.new_zeros(2 * H), bias_hn.detach()]) if bias_hn is not None else None  # (3H,)
    product = prepacked_linear(weight_hh.detach(), B, bias)  # product(h, out=g): g = h W_hh^T + [0, 0, b_hn]
    ys = xp.new_empty(T, B, H)  # (T, B, H)
    hs = [h0.detach(), *ys.unbind(0)]  # hs[t] = h_t in bfloat16: the products' inputs, and the outputs
    states = float32_state(h0, T)  # h_{t-1} and h_t in float32, taking turns
    g = torch.empty(B, H3, **kw)  # [h_r, h_z, h_n + b_hn]
    x = torch.empty(B, H3, **kw)  # xp_t
    rz = torch.empty(B, 2 * H, **kw)  # [r, z]
    n = torch.empty(B, H, **kw)
    g_rz, g_n, x_rz, x_n, r, z = g[:, : 2 * H], g[:, 2 * H :], x[:, : 2 * H], x[:, 2 * H :], rz[:, :H], rz[:, H:]
    xs = xp.detach().unbind(0)
    ks = keep.to(torch.float32).unbind(0) if keep is not None else None
    with loop_threads(step_products(B, weight_hh)) as wide:
        for t in range(T):
            h_in = hs[t] if m is None else hs[t] * m
            with wide:
                product(h_in, out=g)
            x.copy_(xs[t])
            torch.add(x_rz, g_rz, out=rz).sigmoid_()  # [r, z]
            torch.addcmul(x_n, r, g_n, out=n).tanh_()  # n
            torch.lerp(n, states[t], z, out=states[t + 1])  # h~ = (1 - z) * n + z * h_{t-1}
            if ks is not None:
                torch.lerp(states[t + 1], states[t], ks[t], out=states[t + 1])  # h_t = k * h_{t-1} + (1 - k) * h~
            hs[t + 1].copy_(states[t + 1])
    return ys, hs[T].clone()


_TANH_BACKWARD = torch.ops.aten.tanh_backward.grad_input
_SIGMOID_BACKWARD = torch.ops.aten.sigmoid_backward.grad_input


class _GRUScan(torch.autograd.Function):
    """Forward loop and hand-written backward through time (equations in the module docstring)."""

    @staticmethod
    def forward(ctx, xp, h0, weight_hh, bias_hn, keep, recurrent_mask):
        ys, h_T, saved = _forward(xp, h0, weight_hh, bias_hn, keep, recurrent_mask, save=True)
        ctx.save_for_backward(h0, *saved, weight_hh, keep, recurrent_mask)
        ctx.has_bias = bias_hn is not None
        return ys, h_T

    @staticmethod
    @once_differentiable
    def backward(ctx, dys, dh_T):
        h0, ys, rz_buf, hn_buf, n_buf, weight_hh, keep, m = ctx.saved_tensors
        T, B, H = n_buf.shape
        w_r, w_z, w_n = weight_hh.split(H)
        w_nrz = torch.cat([w_n, w_r, w_z])  # (3H, H): rows in the order of the gradient buffer
        grad_buf = n_buf.new_empty(T, B, 4 * H)  # (T, B, 4H): [dh_n, dx_r, dx_z, dx_n] of every step
        hs = [h0, *ys.unbind(0)]  # hs[t] = h_t
        rz, hn, n = per_step(rz_buf, T), per_step(hn_buf, T), per_step(n_buf, T)
        r, z = per_step(rz_buf[..., :H], T), per_step(rz_buf[..., H:], T)
        d_nrz, d_rz = per_step(grad_buf[..., : 3 * H], T), per_step(grad_buf[..., H : 3 * H], T)
        dhn, dxr, dxz, dxn = (per_step(part, T) for part in grad_buf.split(H, -1))
        dys_t = dys.unbind(0)
        ks = keep.unbind(0) if keep is not None else None
        dh = dys_t[T - 1] + dh_T
        with loop_threads(step_products(B, weight_hh)) as wide:
            for t in range(T - 1, -1, -1):
                dht = dh if ks is None else torch.addcmul(dh, dh, ks[t], value=-1)  # dh~ = (1 - k) * dh
                torch.addcmul(dht, dht, z[t], value=-1, out=dxn[t])  # dh~ * (1 - z)
                _TANH_BACKWARD(dxn[t], n[t], grad_input=dxn[t])  # dx_n
                torch.mul(dxn[t], r[t], out=dhn[t])  # dh_n
                torch.mul(dxn[t], hn[t], out=dxr[t])  # dx_r before its factor r (1 - r)
                torch.sub(hs[t], n[t], out=dxz[t]).mul_(dht)  # dx_z before its factor z (1 - z)
                _SIGMOID_BACKWARD(d_rz[t], rz[t], grad_input=d_rz[t])  # both factors: dx_r, dx_z
                # dh_{t-1} = dL/dys_{t-1} + m * ([dx_r, dx_z, dh_n] W_hh) + z * dh~ + k * dh
                with wide:
                    back = recurrent_grad(d_nrz[t], w_nrz, m, dys_t[t - 1] if t > 0 else None)
                back.addcmul_(z[t], dht)
                if ks is not None:
                    back.addcmul_(ks[t], dh)
                dh = back
        need = ctx.needs_input_grad
        dw = db = None
        if need[2]:
            dg = grad_buf[..., : 3 * H]  # (T, B, 3H): [dh_n, dx_r, dx_z]
            # (H, 3H), columns n, r, z: the transposed product is MKL's fast layout for these operands
            dw_t = weight_grad_t(h0, ys, dg, m)
            dw = torch.cat([dw_t[:, H:], dw_t[:, :H]], 1).t()  # (3H, H), rows r, z, n
        if ctx.has_bias and need[3]:
            db = grad_buf[..., :H].sum((0, 1))
        return grad_buf[..., H:] if need[0] else None, dh if need[1] else None, dw, db, None, None
