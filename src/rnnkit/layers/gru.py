"""``GRU``: a drop-in for ``torch.nn.GRU`` that runs rnnkit's fused kernel."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnkit.cells.gru import gru_input_bias
from rnnkit.kernels.gru import gru_scan
from rnnkit.layers.rnn_base import RNNBase


class GRU(RNNBase):
    r"""Stacked, optionally bidirectional GRU with ``torch.nn.GRU``'s arguments, weights and results.

    .. math::
        r_t &= \sigma(x_t W_{ir}^T + b_{ir} + h_{t-1} W_{hr}^T + b_{hr})              \\
        z_t &= \sigma(x_t W_{iz}^T + b_{iz} + h_{t-1} W_{hz}^T + b_{hz})              \\
        n_t &= \tanh(x_t W_{in}^T + b_{in} + r_t \odot (h_{t-1} W_{hn}^T + b_{hn}))    \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}

    per layer and direction (the math of :class:`rnnkit.cells.GRUCell`). Parameters ``weight_ih_l{k}``
    (3H, I or D*H), ``weight_hh_l{k}`` (3H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}`` (3H,), gate blocks
    r, z, n, with ``_reverse`` for the backward direction; U(-1/sqrt(H), 1/sqrt(H)).
    ``forward(input, hx=None) -> (output, h_n)`` as ``torch.nn.GRU``.

    Each layer and direction projects the inputs of all steps in one matmul (both directions in the
    same one; ``b_hr``, ``b_hz`` folded into it, ``b_hn`` kept for the kernel) and runs
    :func:`rnnkit.kernels.gru.gru_scan`.
    """

    gates = 3
    mode = "GRU"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)

    def _input_bias(self, layer: int, direction: int) -> Tensor:
        bias, _ = gru_input_bias(self._param("bias_ih", layer, direction), self._param("bias_hh", layer, direction))
        return bias

    def _scan(self, xp: Tensor, h0: Tensor, layer: int, direction: int, keep: Tensor | None) -> tuple[Tensor, Tensor]:
        _, bias_hn = gru_input_bias(self._param("bias_ih", layer, direction), self._param("bias_hh", layer, direction))
        return gru_scan(xp, h0, self._param("weight_hh", layer, direction), bias_hn, keep=keep)
