"""The simple (Elman) recurrent cell."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import RecurrentCell, check_sizes, init_uniform
from rnnkit.cells.projection import input_projection, summed_bias

from rnnkit.kernels.rnn import rnn_scan

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


class RNNCell(RecurrentCell):
    r"""One step of a simple recurrent network (seed 000 eq. 1, seed 001), as ``torch.nn.RNNCell``.

    .. math::
        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} (m \odot h_{t-1}) + b_{hh})

    :math:`\phi` is tanh or relu; :math:`m` the optional recurrent dropout mask (1 otherwise); the
    output is :math:`y_t = h_t`.

    Parameters (``torch.nn.RNNCell`` names and shapes; all U(-1/sqrt(H), 1/sqrt(H))):
    ``weight_ih (H, I)``, ``weight_hh (H, H)``, ``bias_ih (H,)``, ``bias_hh (H,)``.
    State: a tensor ``h (B, H)``.
    """

    supports_recurrent_mask = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        check_sizes(input_size, hidden_size)
        kw = {"device": device, "dtype": dtype}
        self.input_size, self.hidden_size, self.bias, self.nonlinearity = input_size, hidden_size, bias, nonlinearity
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size, **kw))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size, **kw)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(hidden_size, **kw)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_uniform(self.parameters(), self.hidden_size)

    def forward(self, x_t: Tensor, h: Tensor, *, recurrent_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        phi = _ACTIVATIONS[self.nonlinearity]
        m_h = h if recurrent_mask is None else recurrent_mask * h
        h = phi(F.linear(x_t, self.weight_ih, self.bias_ih) + F.linear(m_h, self.weight_hh, self.bias_hh))
        return h, h

    def scan(
        self, x: Tensor, h: Tensor, *, keep: Tensor | None = None, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """All steps: one matmul ``x W_ih^T + b_ih + b_hh`` for every t, then the fused kernel."""
        xp = input_projection(x, self.weight_ih, summed_bias(self.bias_ih, self.bias_hh))  # (T, B, H)
        return rnn_scan(xp, h, self.weight_hh, nonlinearity=self.nonlinearity, keep=keep, recurrent_mask=recurrent_mask)

    def with_input_size(self, input_size: int) -> RNNCell:
        return RNNCell(input_size, self.hidden_size, self.bias, self.nonlinearity,
                       device=self.weight_ih.device, dtype=self.weight_ih.dtype)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}, nonlinearity={self.nonlinearity!r}"
