"""Step-loop versions of the fused kernels (same signatures), used while ``rnnkit.kernels`` lacks them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _mix(keep, old, new):
    return new if keep is None else keep * old + (1 - keep) * new


def _at(mask, t):
    return None if mask is None else mask[min(t, mask.shape[0] - 1)]


def rnn_scan(xp, h0, weight_hh, *, nonlinearity="tanh", keep=None, recurrent_mask=None):
    act = torch.tanh if nonlinearity == "tanh" else torch.relu
    h, ys = h0, []
    for t, xp_t in enumerate(xp.unbind(0)):
        m_h = h if recurrent_mask is None else h * recurrent_mask
        h = _mix(_at(keep, t), h, act(xp_t + F.linear(m_h, weight_hh)))
        ys.append(h)
    return torch.stack(ys), h


def gru_scan(xp, h0, weight_hh, bias_hn=None, *, keep=None, recurrent_mask=None):
    h, ys = h0, []
    for t, xp_t in enumerate(xp.unbind(0)):
        m_h = h if recurrent_mask is None else h * recurrent_mask
        x_r, x_z, x_n = xp_t.chunk(3, -1)
        h_r, h_z, h_n = F.linear(m_h, weight_hh).chunk(3, -1)
        if bias_hn is not None:
            h_n = h_n + bias_hn
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = _mix(_at(keep, t), h, (1 - z) * n + z * h)
        ys.append(h)
    return torch.stack(ys), h


def minimal_gru_scan(xp, h0, weight_hh, *, keep=None, recurrent_mask=None):
    h, ys = h0, []
    for t, xp_t in enumerate(xp.unbind(0)):
        m_h = h if recurrent_mask is None else h * recurrent_mask
        a_u, a_c = (xp_t + F.linear(m_h, weight_hh)).chunk(2, -1)
        gamma_u = torch.sigmoid(a_u)
        h = _mix(_at(keep, t), h, gamma_u * torch.tanh(a_c) + (1 - gamma_u) * h)
        ys.append(h)
    return torch.stack(ys), h


def lstm_scan(xp, h0, c0, weight_hh, *, weight_ci=None, weight_cf=None, weight_co=None,
              ln_gates_weight=None, ln_gates_bias=None, ln_cell_weight=None, ln_cell_bias=None, ln_eps=1e-5,
              keep_h=None, keep_c=None, recurrent_mask=None) -> tuple[Tensor, Tensor, Tensor]:
    h, c, ys = h0, c0, []
    H = c0.shape[-1]
    for t, xp_t in enumerate(xp.unbind(0)):
        m_h = h if recurrent_mask is None else h * recurrent_mask
        a = xp_t + F.linear(m_h, weight_hh)
        if ln_gates_weight is not None:
            a = F.layer_norm(a.view(-1, 4, H), (H,), eps=ln_eps).reshape(-1, 4 * H) * ln_gates_weight + ln_gates_bias
        a_i, a_f, a_g, a_o = a.chunk(4, -1)
        i = torch.sigmoid(a_i + (0 if weight_ci is None else weight_ci * c))
        f = torch.sigmoid(a_f + (0 if weight_cf is None else weight_cf * c))
        g = torch.tanh(a_g)
        c_new = f * c + i * g
        o = torch.sigmoid(a_o + (0 if weight_co is None else weight_co * c_new))
        c_norm = c_new if ln_cell_weight is None else F.layer_norm(c_new, (H,), ln_cell_weight, ln_cell_bias, ln_eps)
        h_new = o * torch.tanh(c_norm)
        c = _mix(_at(keep_c, t), c, c_new)
        h = _mix(_at(keep_h, t), h, h_new)
        ys.append(h)
    return torch.stack(ys), h, c
