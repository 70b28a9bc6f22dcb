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
    dx_n = dh~ * (1 - z) * (1 - n^2)                               gradient of x_n + r * (h_n + b_hn)
    dx_z = dh~ * (h_{t-1} - n) * z * (1 - z)                        = dh_z
    dx_r = dx_n * (h_n + b_hn) * r * (1 - r)                        = dh_r
    dh_n = dx_n * r                                                 = the step's share of db_hn
    dg_t = [dx_r, dx_z, dh_n]                                       gradient of (h_{t-1} * m) W_hh^T
    dh_{t-1} = k_t * dh_t + z * dh~ + m * (dg_t W_hh)

After the loop, with dG = [dg_1; ..; dg_T] and H = [h_0 * m; ..; h_{T-1} * m] stacked over time and batch,
one matmul gives dW_hh = dG^T H, and db_hn = the sum of dh_n over time and batch.

The sigmoid and tanh of a step are computed in place in the output of its recurrent matmul, whose
bias is [0, 0, b_hn]: after them it holds [r, z, h_n + b_hn], exactly what the backward pass needs.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from rnnkit.kernels.linear import linear


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
    _check(xp, h0, weight_hh, bias_hn, keep, recurrent_mask)
    tensors = (xp, h0, weight_hh, bias_hn)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors):
        return _GRUScan.apply(xp, h0, weight_hh, bias_hn, keep, recurrent_mask)
    ys, h_T, _ = _forward(xp, h0, weight_hh, bias_hn, keep, recurrent_mask, save=False)
    return ys, h_T


def _check(xp, h0, weight_hh, bias_hn, keep, recurrent_mask) -> None:
    if xp.dim() != 3:
        raise ValueError(f"gru_scan: xp must be (T, B, 3H), got shape {tuple(xp.shape)}")
    T, B, G = xp.shape
    if h0.dim() != 2 or h0.shape[0] != B:
        raise ValueError(f"gru_scan: h0 must be (B={B}, H), got shape {tuple(h0.shape)}")
    H = h0.shape[1]
    if G != 3 * H:
        raise ValueError(f"gru_scan: xp's last size must be 3H = {3 * H} for H = {H}, got {G}")
    if weight_hh.shape != (3 * H, H):
        raise ValueError(f"gru_scan: weight_hh must be (3H, H) = {(3 * H, H)}, got {tuple(weight_hh.shape)}")
    if bias_hn is not None and bias_hn.shape != (H,):
        raise ValueError(f"gru_scan: bias_hn must be (H,) = ({H},), got {tuple(bias_hn.shape)}")
    if keep is not None and (keep.dim() != 3 or keep.shape[:2] != (T, B) or keep.shape[2] not in (1, H)):
        raise ValueError(f"gru_scan: keep must be (T, B, H) or (T, B, 1) = ({T}, {B}, {H} or 1), got {tuple(keep.shape)}")
    if recurrent_mask is not None and recurrent_mask.shape != (B, H):
        raise ValueError(f"gru_scan: recurrent_mask must be (B, H) = ({B}, {H}), got {tuple(recurrent_mask.shape)}")


def _forward(xp, h0, weight_hh, bias_hn, keep, recurrent_mask, *, save: bool):
    """The loop through time. Returns ys, h_T and, if ``save``, what the backward pass needs."""
    xp, h0, weight_hh = xp.detach(), h0.detach(), weight_hh.detach()
    T, B, _ = xp.shape
    H = h0.shape[1]
    m = recurrent_mask
    bias = None
    if bias_hn is not None:
        bias = torch.cat([bias_hn.detach().new_zeros(2 * H), bias_hn.detach()])  # (3H,) = [0, 0, b_hn]
    # hs[0] = h0 and hs[1:] = ys: the states before each step are then hs[:-1] without a copy.
    hs = xp.new_empty(T + 1, B, H)
    hs[0] = h0
    ns = xp.new_empty(T if save else 1, B, H)
    gates = []
    ks = keep.unbind(0) if keep is not None else [None] * T
    for t, (x, h_prev, h, k) in enumerate(zip(xp.unbind(0), hs[:-1].unbind(0), hs[1:].unbind(0), ks)):
        g = linear(h_prev if m is None else h_prev * m, weight_hh, bias)  # (B, 3H) = [h_r, h_z, h_n + b_hn]
        g[:, : 2 * H].add_(x[:, : 2 * H]).sigmoid_()  # g = [r, z, h_n + b_hn]
        r, z, hn = g.split(H, 1)
        n = torch.addcmul(x[:, 2 * H :], r, hn, out=ns[t if save else 0]).tanh_()
        torch.lerp(n, h_prev, z, out=h)  # h~ = (1 - z) * n + z * h_{t-1}
        if k is not None:
            torch.lerp(h, h_prev, k, out=h)  # h_t = k * h_{t-1} + (1 - k) * h~
        if save:
            gates.append(g)
    saved = (hs, ns, torch.stack(gates)) if save else None
    return hs[1:], hs[-1].clone(), saved


class _GRUScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp, h0, weight_hh, bias_hn, keep, recurrent_mask):
        ys, h_T, (hs, ns, gates) = _forward(xp, h0, weight_hh, bias_hn, keep, recurrent_mask, save=True)
        ctx.save_for_backward(hs, ns, gates, weight_hh, keep, recurrent_mask)
        ctx.has_bias = bias_hn is not None
        ctx.mark_non_differentiable(*(t for t in (keep, recurrent_mask) if t is not None))
        return ys, h_T

    @staticmethod
    @once_differentiable
    def backward(ctx, dys, dh_T):
        hs, ns, gates, weight_hh, keep, m = ctx.saved_tensors
        T, B, H = ns.shape
        w_t = weight_hh.t().contiguous()  # (H, 3H): dg W_hh = linear(dg, W_hh^T)
        dh = dys.contiguous().clone()  # (T, B, H): dL/dh_t, completed step by step
        dh[T - 1] += dh_T
        dg = ns.new_empty(T, B, 3 * H)  # dg_t = [dx_r, dx_z, dh_n]
        dxn = ns.new_empty(T, B, H)
        dh0 = None
        for t in range(T - 1, -1, -1):
            g, n, h_prev, dh_t = gates[t], ns[t], hs[t], dh[t]
            r, z, hn = g.split(H, 1)
            dxr, dxz, dhn = dg[t].split(H, 1)
            dht = dh_t if keep is None else dh_t * (1 - keep[t])  # dh~
            torch.addcmul(dht, dht, z, value=-1, out=dxn[t])  # dh~ * (1 - z)
            torch.ops.aten.tanh_backward(dxn[t], n, grad_input=dxn[t])  # dx_n
            torch.sub(h_prev, n, out=dxz).mul_(dht)  # dh~ * (h_{t-1} - n), then the sigmoid below
            torch.mul(dxn[t], hn, out=dxr)
            torch.mul(dxn[t], r, out=dhn)  # dh_n
            rz = g[:, : 2 * H]
            torch.ops.aten.sigmoid_backward(dg[t, :, : 2 * H], rz, grad_input=dg[t, :, : 2 * H])  # dx_r, dx_z
            back = linear(dg[t], w_t)  # dg_t W_hh
            if m is not None:
                back.mul_(m)
            back.addcmul_(z, dht)
            if keep is not None:
                back.addcmul_(keep[t], dh_t)
            if t > 0:
                dh[t - 1] += back
            else:
                dh0 = back
        need = ctx.needs_input_grad
        dxp = torch.cat([dg[..., : 2 * H], dxn], -1) if need[0] else None  # (T, B, 3H)
        dw = None
        if need[2]:
            h_prev = hs[:-1] if m is None else hs[:-1] * m
            dw = dg.reshape(T * B, 3 * H).t() @ h_prev.reshape(T * B, H)  # (3H, H)
        db = dg[..., 2 * H :].sum((0, 1)) if ctx.has_bias and need[3] else None
        return dxp, dh0 if need[1] else None, dw, db, None, None
