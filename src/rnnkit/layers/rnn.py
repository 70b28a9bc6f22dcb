"""``RNN``: a drop-in for ``torch.nn.RNN`` that runs rnnkit's fused kernel."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from rnnkit.kernels.rnn import rnn_scan
from rnnkit.layers.rnn_base import RNNBase


class RNN(RNNBase):
    r"""Stacked, optionally bidirectional Elman RNN with ``torch.nn.RNN``'s arguments, weights and results.

    .. math::
        h_t = \phi(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh}),\quad \phi \in \{\tanh, \mathrm{relu}\}

    per layer and direction (the math of :class:`rnnkit.cells.RNNCell`). Parameters ``weight_ih_l{k}``
    (H, I or D*H), ``weight_hh_l{k}`` (H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (H,), with ``_reverse``
    for the backward direction; U(-1/sqrt(H), 1/sqrt(H)). ``forward(input, hx=None) -> (output, h_n)``
    with ``output`` (T, B, D*H) (batch first if asked, or a ``PackedSequence``) and ``h_n`` (L*D, B, H).

    Each layer and direction projects the inputs of all steps in one matmul (both directions in the
    same one) and runs :func:`rnnkit.kernels.rnn.rnn_scan`.
    """

    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity {nonlinearity!r}. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def _scan(self, xp: Tensor, h0: Tensor, layer: int, direction: int, keep: Tensor | None) -> tuple[Tensor, Tensor]:
        return rnn_scan(xp, h0, self._param("weight_hh", layer, direction), nonlinearity=self.nonlinearity, keep=keep)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity!r}"
