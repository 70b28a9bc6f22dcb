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

After the loop, one matmul over all steps gives dW_hh = sum_t [dx_r, dx_z, dh_n]_t^T (h_{t-1} * m), and
db_hn is the sum of dh_n over time and batch.

Layout. The recurrent matmul of a step writes into a buffer row with bias [0, 0, b_hn]; the gate sigmoids
are taken in place there, which leaves [r, z, h_n + b_hn]: exactly what the backward pass reads. The
backward pass writes each step's gradients as [dh_n, dx_r, dx_z, dx_n]: its first 3H columns, against the
recurrent weight with its rows reordered to (n, r, z), give the matmuls for dh_{t-1} and dW_hh, and its
last 3H columns are dxp, so neither needs a copy. All matmuls go through ``torch.mm``/``torch.addmm``
(MKL), which on this kind of CPU reaches the FMA peak for these shapes, ahead of oneDNN's inner product.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from rnnkit.kernels._common import (
    check_keep,
    check_recurrent_mask,
    check_scan,
    check_vector,
    needs_grad,
    per_step,
)

_KERNEL = "gru_scan"


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

    Returns:
        ys (T, B, H), the state after every step, and h_T (B, H).
    """
    steps, batch, hidden = check_scan(_KERNEL, xp, h0, weight_hh, 3)
    check_vector(_KERNEL, "bias_hn", bias_hn, hidden)
    check_keep(_KERNEL, "keep", keep, steps, batch, hidden)
    check_recurrent_mask(_KERNEL, recurrent_mask, batch, hidden)
    if needs_grad(xp, h0, weight_hh, bias_hn):
        return _GRUScan.apply(xp, h0, weight_hh, bias_hn, keep, recurrent_mask)
    ys, h_T, _ = _forward(xp, h0, weight_hh, bias_hn, keep, recurrent_mask, save=False)
    return ys, h_T


def _forward(xp, h0, weight_hh, bias_hn, keep, recurrent_mask, *, save: bool):
    """The loop through time. Returns ys, h_T and, if ``save``, what the backward pass needs."""
    T, B, H3 = xp.shape
    H = H3 // 3
    m = recurrent_mask
    w_t = weight_hh.detach().t().contiguous()  # (H, 3H)
    bias = None
    if bias_hn is not None:
        bias = torch.cat([bias_hn.detach().new_zeros(2 * H), bias_hn.detach()])  # (3H,) = [0, 0, b_hn]
    # hs[0] = h0 and hs[1:] = ys: the states before each step are then hs[:-1] without a copy.
    hs_buf = xp.new_empty(T + 1, B, H)
    hs_buf[0] = h0
    gates_buf = xp.new_empty(T if save else 1, B, 3 * H)  # (T, B, 3H): [r, z, h_n + b_hn]
    n_buf = xp.new_empty(T if save else 1, B, H)  # (T, B, H): n
    hs, gates, ns = per_step(hs_buf, T + 1), per_step(gates_buf, T), per_step(n_buf, T)
    xs = xp.detach().unbind(0)
    ks = keep.unbind(0) if keep is not None else None
    for t in range(T):
        x, h_prev, g, n = xs[t], hs[t], gates[t], ns[t]
        h_in = h_prev if m is None else h_prev * m
        if bias is None:
            torch.mm(h_in, w_t, out=g)  # [h_r, h_z, h_n]
        else:
            torch.addmm(bias, h_in, w_t, out=g)  # [h_r, h_z, h_n + b_hn]
        g[:, : 2 * H].add_(x[:, : 2 * H]).sigmoid_()  # g = [r, z, h_n + b_hn]
        r, z, hn = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
        torch.addcmul(x[:, 2 * H :], r, hn, out=n).tanh_()  # n
        torch.lerp(n, h_prev, z, out=hs[t + 1])  # h~ = (1 - z) * n + z * h_{t-1}
        if ks is not None:
            torch.lerp(hs[t + 1], h_prev, ks[t], out=hs[t + 1])  # h_t = k * h_{t-1} + (1 - k) * h~
    return hs_buf[1:], hs[T].clone(), (hs_buf, gates_buf, n_buf) if save else None


class _GRUScan(torch.autograd.Function):
    """Forward loop and hand-written backward through time (equations in the module docstring)."""

    @staticmethod
    def forward(ctx, xp, h0, weight_hh, bias_hn, keep, recurrent_mask):
        ys, h_T, (hs, gates, ns) = _forward(xp, h0, weight_hh, bias_hn, keep, recurrent_mask, save=True)
        ctx.save_for_backward(hs, gates, ns, weight_hh, keep, recurrent_mask)
        ctx.has_bias = bias_hn is not None
        return ys, h_T

    @staticmethod
    @once_differentiable
    def backward(ctx, dys, dh_T):
        hs_buf, gates_buf, n_buf, weight_hh, keep, m = ctx.saved_tensors
        T, B, H = n_buf.shape
        w_r, w_z, w_n = weight_hh.split(H)
        w_nrz = torch.cat([w_n, w_r, w_z])  # (3H, H): rows in the order of the gradient buffer
        grad_buf = n_buf.new_empty(T, B, 4 * H)  # (T, B, 4H): [dh_n, dx_r, dx_z, dx_n] of every step
        hs, gates, ns, grads = per_step(hs_buf, T + 1), per_step(gates_buf, T), per_step(n_buf, T), per_step(grad_buf, T)
        dys_t = dys.unbind(0)
        ks = keep.unbind(0) if keep is not None else None
        dh = dys_t[T - 1] + dh_T
        for t in range(T - 1, -1, -1):
            g, n, h_prev, d = gates[t], ns[t], hs[t], grads[t]
            r, z, hn = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
            dhn, dxr, dxz, dxn = d[:, :H], d[:, H : 2 * H], d[:, 2 * H : 3 * H], d[:, 3 * H :]
            dht = dh if ks is None else torch.addcmul(dh, dh, ks[t], value=-1)  # dh~ = (1 - k) * dh
            torch.addcmul(dht, dht, z, value=-1, out=dxn)  # dh~ * (1 - z)
            torch.ops.aten.tanh_backward(dxn, n, grad_input=dxn)  # dx_n
            torch.mul(dxn, r, out=dhn)  # dh_n
            torch.mul(dxn, hn, out=dxr)  # dx_r / (r (1 - r))
            torch.sub(h_prev, n, out=dxz).mul_(dht)  # dx_z / (z (1 - z))
            rz = d[:, H : 3 * H]
            torch.ops.aten.sigmoid_backward(rz, g[:, : 2 * H], grad_input=rz)  # dx_r, dx_z
            # dh_{t-1} = dL/dys_{t-1} + m * ([dx_r, dx_z, dh_n] W_hh) + z * dh~ + k * dh
            if m is None and t > 0:
                back = torch.addmm(dys_t[t - 1], d[:, : 3 * H], w_nrz)
            else:
                back = torch.mm(d[:, : 3 * H], w_nrz)
                if m is not None:
                    back.mul_(m)
                if t > 0:
                    back.add_(dys_t[t - 1])
            back.addcmul_(z, dht)
            if ks is not None:
                back.addcmul_(ks[t], dh)
            dh = back
        need = ctx.needs_input_grad
        dw = db = None
        if need[2]:
            h_in = hs_buf[:-1] if m is None else hs_buf[:-1] * m  # (T, B, H): h_{t-1} * m
            # (H, 3H), columns n, r, z: the transposed product is MKL's fast layout for these operands
            dw_t = torch.mm(h_in.reshape(T * B, H).t(), grad_buf[..., : 3 * H].reshape(T * B, 3 * H))
            dw = torch.cat([dw_t[:, H:], dw_t[:, :H]], 1).t()  # (3H, H), rows r, z, n
        if ctx.has_bias and need[3]:
            db = grad_buf[..., :H].sum((0, 1))
        return grad_buf[..., H:] if need[0] else None, dh if need[1] else None, dw, db, None, None
