"""The simple (Elman) recurrent cell."""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from rnnkit.cells.base import ProjectedInputCell
from rnnkit.cells.projection import input_projection, summed_bias
from rnnkit.kernels.rnn import rnn_scan
from rnnkit.kernels.transition import Transition

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


class RNNCell(ProjectedInputCell):
    r"""One step of a simple recurrent network (seed 000 eq. 1, seed 001), as ``torch.nn.RNNCell``.

    .. math::
        h_t = \phi(W_{ih} x_t + b_{ih} + W_{hh} (m \odot h_{t-1}) + b_{hh})

    :math:`\phi` is tanh or relu; :math:`m` the optional recurrent dropout mask (1 otherwise); the
    output is :math:`y_t = h_t`.

    Parameters (``torch.nn.RNNCell`` names and shapes; all U(-1/sqrt(H), 1/sqrt(H))):
    ``weight_ih (H, I)``, ``weight_hh (H, H)``, ``bias_ih (H,)``, ``bias_hh (H,)``.
    State: a tensor ``h (B, H)``.
    """

    gates = 1
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
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity
        self.reset_parameters()

    def options(self) -> dict[str, Any]:
        return {"bias": self.bias, "nonlinearity": self.nonlinearity}

    def step(self, xp_t: Tensor, h: Tensor, *, recurrent_mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        phi = _ACTIVATIONS[self.nonlinearity]
        m_h = h if recurrent_mask is None else recurrent_mask * h
        h = phi(xp_t + F.linear(m_h, self.weight_hh, self.bias_hh))
        return h, h

    def scan(
        self,
        x: Tensor,
        h: Tensor,
        *,
        keep: Tensor | None = None,
        recurrent_mask: Tensor | None = None,
        transition: Transition | None = None,
    ) -> tuple[Tensor, Tensor]:
        """All steps: one matmul ``x W_ih^T + b_ih + b_hh`` for every t, then the fused kernel.

        ``transition`` puts a deep-transition MLP between ``m h_{t-1}`` and the recurrent matmul, the
        recurrent mask now applying to the MLP's input (:mod:`rnnkit.kernels.transition`): the fused path
        of ``DeepTransition`` around this cell (the DT-RNN), which the kernel runs.
        """
        xp = input_projection(x, self.weight_ih, summed_bias(self.bias_ih, self.bias_hh))  # (T, B, H)
        return rnn_scan(
            xp, h, self.weight_hh, nonlinearity=self.nonlinearity, keep=keep, recurrent_mask=recurrent_mask,
            transition=transition,
        )  # fmt: skip
