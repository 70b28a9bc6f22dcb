r"""Fused simple-RNN kernel (Elman, tanh or relu): the whole sequence forward, and backpropagation
through time written by hand.

Forward, for t = 1..T (``m`` is the recurrent mask, 1 if not given; ``k_t`` is the keep mask, 0 if
not given; ``act`` is tanh or relu)::

    a_t = xp_t + (h_{t-1} * m) W_hh^T            xp_t = x_t W_ih^T + b_ih + b_hh
    h~  = act(a_t)
    h_t = k_t * h_{t-1} + (1 - k_t) * h~          ys_t = h_t

Backward, for t = T..1. ``dh_t`` is the gradient reaching h_t: dL/dys_t plus what step t+1 sent back
(and dL/dh_T at the last step)::

    dh~  = (1 - k_t) * dh_t
    da_t = dh~ * act'(a_t)           act' = 1 - h~^2 for tanh, [h~ > 0] for relu;   dxp_t = da_t
    dh_{t-1} = k_t * dh_t + m * (da_t W_hh)

After the loop, with dA = [da_1; ..; da_T] and H = [h_0 * m; ..; h_{T-1} * m] stacked over time and
batch, one matmul gives dW_hh = dA^T H.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from rnnkit.kernels.linear import linear

NONLINEARITIES = ("tanh", "relu")


def rnn_scan(
    xp: torch.Tensor,
    h0: torch.Tensor,
    weight_hh: torch.Tensor,
    *,
    nonlinearity: str = "tanh",
    keep: torch.Tensor | None = None,
    recurrent_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run a simple RNN over a whole sequence.

    Args:
        xp: (T, B, H) input projections of all steps with both biases added.
        h0: (B, H) initial state.
        weight_hh: (H, H) recurrent weights, ``torch.nn.RNN`` layout.
        nonlinearity: "tanh" or "relu".
        keep: (T, B, H) or (T, B, 1) float mask; where 1 the state is carried over unchanged (zoneout,
            sequence lengths). Not differentiated.
        recurrent_mask: (B, H) float mask multiplying h_{t-1} where it enters the recurrent matmul
            (variational dropout). Not differentiated.

    Returns:
        ys (T, B, H), the state after every step, and h_T (B, H).
    """
    _check(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask)
    if torch.is_grad_enabled() and any(t.requires_grad for t in (xp, h0, weight_hh)):
        return _RNNScan.apply(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask)
    ys, h_T, _ = _forward(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, save=False)
    return ys, h_T


def _check(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask) -> None:
    if nonlinearity not in NONLINEARITIES:
        raise ValueError(f"rnn_scan: nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}")
    if xp.dim() != 3:
        raise ValueError(f"rnn_scan: xp must be (T, B, H), got shape {tuple(xp.shape)}")
    T, B, G = xp.shape
    if h0.dim() != 2 or h0.shape[0] != B:
        raise ValueError(f"rnn_scan: h0 must be (B={B}, H), got shape {tuple(h0.shape)}")
    H = h0.shape[1]
    if G != H:
        raise ValueError(f"rnn_scan: xp's last size must be H = {H}, got {G}")
    if weight_hh.shape != (H, H):
        raise ValueError(f"rnn_scan: weight_hh must be (H, H) = {(H, H)}, got {tuple(weight_hh.shape)}")
    if keep is not None and (keep.dim() != 3 or keep.shape[:2] != (T, B) or keep.shape[2] not in (1, H)):
        raise ValueError(f"rnn_scan: keep must be (T, B, H) or (T, B, 1) = ({T}, {B}, {H} or 1), got {tuple(keep.shape)}")
    if recurrent_mask is not None and recurrent_mask.shape != (B, H):
        raise ValueError(f"rnn_scan: recurrent_mask must be (B, H) = ({B}, {H}), got {tuple(recurrent_mask.shape)}")


def _forward(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, *, save: bool):
    """The loop through time. Returns ys, h_T and, if ``save`` and there is a keep mask, every h~."""
    xp, h0, weight_hh = xp.detach(), h0.detach(), weight_hh.detach()
    T, B, H = xp.shape
    m = recurrent_mask
    act_ = torch.Tensor.tanh_ if nonlinearity == "tanh" else torch.Tensor.relu_
    # hs[0] = h0 and hs[1:] = ys: the states before each step are then hs[:-1] without a copy.
    hs = xp.new_empty(T + 1, B, H)
    hs[0] = h0
    candidates = []
    ks = keep.unbind(0) if keep is not None else [None] * T
    for x, h_prev, h, k in zip(xp.unbind(0), hs[:-1].unbind(0), hs[1:].unbind(0), ks):
        a = linear(h_prev if m is None else h_prev * m, weight_hh)  # (h_{t-1} * m) W_hh^T
        if k is None:
            act_(torch.add(a, x, out=h))  # h_t = h~ = act(a_t)
        else:
            h_tilde = act_(a.add_(x))
            torch.lerp(h_tilde, h_prev, k, out=h)  # h_t = k * h_{t-1} + (1 - k) * h~
            if save:
                candidates.append(h_tilde)
    # Without a keep mask h~ = h_t, so the backward pass reads h~ from the states themselves.
    h_tildes = torch.stack(candidates) if candidates else hs[1:]
    return hs[1:], hs[-1].clone(), (hs, h_tildes) if save else None


class _RNNScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp, h0, weight_hh, nonlinearity, keep, recurrent_mask):
        ys, h_T, (hs, h_tildes) = _forward(xp, h0, weight_hh, nonlinearity, keep, recurrent_mask, save=True)
        ctx.save_for_backward(hs, h_tildes, weight_hh, keep, recurrent_mask)
        ctx.nonlinearity = nonlinearity
        ctx.mark_non_differentiable(*(t for t in (keep, recurrent_mask) if t is not None))
        return ys, h_T

    @staticmethod
    @once_differentiable
    def backward(ctx, dys, dh_T):
        hs, h_tildes, weight_hh, keep, m = ctx.saved_tensors
        T, B, H = h_tildes.shape
        w_t = weight_hh.t().contiguous()  # (H, H): da W_hh = linear(da, W_hh^T)
        dh = dys.contiguous().clone()  # (T, B, H): dL/dh_t, completed step by step
        dh[T - 1] += dh_T
        da = torch.empty_like(dh)  # (T, B, H); da_t = dxp_t
        dh0 = None
        for t in range(T - 1, -1, -1):
            dh_t = dh[t]
            dht = dh_t if keep is None else dh_t * (1 - keep[t])  # dh~
            if ctx.nonlinearity == "tanh":
                torch.ops.aten.tanh_backward(dht, h_tildes[t], grad_input=da[t])
            else:
                torch.ops.aten.threshold_backward(dht, h_tildes[t], 0, grad_input=da[t])
            back = linear(da[t], w_t)  # da_t W_hh
            if m is not None:
                back.mul_(m)
            if keep is not None:
                back.addcmul_(keep[t], dh_t)
            if t > 0:
                dh[t - 1] += back
            else:
                dh0 = back
        need = ctx.needs_input_grad
        dw = None
        if need[2]:
            h_prev = hs[:-1] if m is None else hs[:-1] * m
            dw = da.reshape(T * B, H).t() @ h_prev.reshape(T * B, H)  # (H, H)
        return da if need[0] else None, dh0 if need[1] else None, dw, None, None, None
