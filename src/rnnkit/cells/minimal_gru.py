"""The minimal GRU: a single update gate and no reset gate (seed 000 eq. 10-14)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.cells.base import ProjectedInputCell
from rnnkit.cells.projection import input_projection, summed_bias

from rnnkit.kernels.minimal_gru import minimal_gru_scan


class MinimalGRUCell(ProjectedInputCell):
    r"""One step of the single-gate GRU of seed 000 (eq. 10-14), where the memory is the output.

    .. math::
        a_u, a_c &= W_{ih} x_t + b_{ih} + W_{hh} (m \odot h_{t-1}) + b_{hh}     \\
        \gamma_u &= \sigma(a_u)                                                  \\
        \tilde c_t &= \tanh(a_c)                                                 \\
        h_t &= \gamma_u \odot \tilde c_t + (1 - \gamma_u) \odot h_{t-1}

    Seed 000 writes :math:`W_c [c^{<t-1>}, x^{<t>}] + b_c`; here that one matrix is split into its input
    part (``weight_ih``) and recurrent part (``weight_hh``) as in ``torch.nn``, and
    :math:`a^{<t>} = c^{<t>} = h_t` is the output. :math:`m` is the optional recurrent dropout mask.

    Parameters (gate blocks in the order u, c; all U(-1/sqrt(H), 1/sqrt(H))):
    ``weight_ih (2H, I)``, ``weight_hh (2H, H)``, ``bias_ih (2H,)``, ``bias_hh (2H,)``.
    State: a tensor ``h (B, H)``.
    """

    gates = 2
    supports_recurrent_mask = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self.reset_parameters()

    def step(self, xp_t: Tensor, h: Tensor, *, recurrent_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        m_h = h if recurrent_mask is None else recurrent_mask * h
        a = xp_t + F.linear(m_h, self.weight_hh, self.bias_hh)
        a_u, a_c = a.chunk(2, 1)
        gamma_u = torch.sigmoid(a_u)
        c_tilde = torch.tanh(a_c)
        h = gamma_u * c_tilde + (1 - gamma_u) * h
        return h, h

    def scan(
        self, x: Tensor, h: Tensor, *, keep: Tensor | None = None, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """All steps: one matmul ``x W_ih^T + b_ih + b_hh`` for every t, then the fused kernel."""
        xp = input_projection(x, self.weight_ih, summed_bias(self.bias_ih, self.bias_hh))  # (T, B, 2H)
        return minimal_gru_scan(xp, h, self.weight_hh, keep=keep, recurrent_mask=recurrent_mask)
