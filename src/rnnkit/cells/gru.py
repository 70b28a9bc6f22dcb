"""The gated recurrent unit (GRU) with reset and update gates, as ``torch.nn.GRUCell``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.cells.base import ProjectedInputCell
from rnnkit.cells.projection import input_projection

from rnnkit.kernels.gru import gru_scan


class GRUCell(ProjectedInputCell):
    r"""One step of a GRU (Cho et al. 2014; seed 001, seed 002 sec. 4.3.2) in ``torch.nn``'s formulation.

    .. math::
        x_r, x_z, x_n &= W_{ih} x_t + b_{ih}                      \\
        h_r, h_z, h_n &= W_{hh} (m \odot h_{t-1}) + b_{hh}        \\
        r_t &= \sigma(x_r + h_r)                                  \\
        z_t &= \sigma(x_z + h_z)                                  \\
        n_t &= \tanh(x_n + r_t \odot h_n)                         \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    The reset gate :math:`r` scales the whole recurrent term of the candidate, bias ``b_hn`` included
    (this is why ``torch.nn`` keeps two biases). :math:`m` is the optional recurrent dropout mask;
    the output is :math:`y_t = h_t`. With :math:`r = 1, z = 0` the cell is a plain tanh RNN.

    Parameters (``torch.nn.GRUCell`` names; gate blocks in the order r, z, n; all U(-1/sqrt(H), 1/sqrt(H))):
    ``weight_ih (3H, I)``, ``weight_hh (3H, H)``, ``bias_ih (3H,)``, ``bias_hh (3H,)``.
    State: a tensor ``h (B, H)``.
    """

    gates = 3
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
        x_r, x_z, x_n = xp_t.chunk(3, 1)
        h_r, h_z, h_n = F.linear(m_h, self.weight_hh, self.bias_hh).chunk(3, 1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = (1 - z) * n + z * h
        return h, h

    def scan(
        self, x: Tensor, h: Tensor, *, keep: Tensor | None = None, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """All steps: one matmul for ``[x_r + b_hr, x_z + b_hz, x_n]`` of every t, then the fused kernel."""
        bias, bias_hn = gru_input_bias(self.bias_ih, self.bias_hh)
        xp = input_projection(x, self.weight_ih, bias)  # (T, B, 3H)
        return gru_scan(xp, h, self.weight_hh, bias_hn, keep=keep, recurrent_mask=recurrent_mask)


def gru_input_bias(bias_ih: Tensor | None, bias_hh: Tensor | None) -> tuple[Tensor | None, Tensor | None]:
    """The input projection's bias ``[b_ir + b_hr, b_iz + b_hz, b_in]`` and ``b_hn`` kept apart.

    ``b_hr`` and ``b_hz`` sit outside any product so they fold into the input projection; ``b_hn`` is
    scaled by the reset gate and must stay with the recurrent term.
    """
    if bias_ih is None:
        return None, None
    H = bias_hh.shape[0] // 3
    return torch.cat([bias_ih[: 2 * H] + bias_hh[: 2 * H], bias_ih[2 * H :]]), bias_hh[2 * H :]
