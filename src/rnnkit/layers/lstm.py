"""``LSTM``: a drop-in for ``torch.nn.LSTM`` (same arguments, weights, results and speed)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from rnnkit.cells.state import LSTMState
from rnnkit.kernels.torch_lstm import torch_lstm
from rnnkit.layers.rnn_base import RNNBase


class LSTM(RNNBase):
    r"""Stacked, optionally bidirectional LSTM with ``torch.nn.LSTM``'s arguments, weights and results.

    .. math::
        i_t &= \sigma(x_t W_{ii}^T + b_{ii} + h_{t-1} W_{hi}^T + b_{hi})    \\
        f_t &= \sigma(x_t W_{if}^T + b_{if} + h_{t-1} W_{hf}^T + b_{hf})    \\
        g_t &= \tanh(x_t W_{ig}^T + b_{ig} + h_{t-1} W_{hg}^T + b_{hg})     \\
        o_t &= \sigma(x_t W_{io}^T + b_{io} + h_{t-1} W_{ho}^T + b_{ho})    \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t                           \\
        h_t &= W_{hr} (o_t \odot \tanh(c_t))

    per layer and direction (the math of :class:`rnnkit.cells.LSTMCell`; :math:`W_{hr} = I` without
    ``proj_size``). Parameters ``weight_ih_l{k}`` (4H, I or D*H_out), ``weight_hh_l{k}`` (4H, H_out),
    ``bias_ih_l{k}``, ``bias_hh_l{k}`` (4H,), gate blocks i, f, g, o, and ``weight_hr_l{k}`` (P, H) with a
    projection; ``_reverse`` for the backward direction. ``forward(input, hx=None) -> (output, (h_n, c_n))``
    with ``(h_n, c_n)`` an ``LSTMState``.

    The whole computation is PyTorch's own fused LSTM operator (``torch.lstm``, oneDNN's LSTM primitive on
    this CPU) called with this module's parameters: for the configurations ``torch.nn.LSTM`` supports it is
    the fastest implementation there is, and rnnkit's fused LSTM kernel (``rnnkit.kernels.lstm``, used by
    :class:`rnnkit.cells.LSTMCell`) earns its place with the options torch lacks (peepholes, layer norm,
    zoneout, recurrent dropout).
    """

    gates = 4
    mode = "LSTM"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, proj_size,
                         device=device, dtype=dtype)

    def _forward_tensor(self, x: Tensor, hx: LSTMState, lengths: Tensor | None = None) -> tuple[Tensor, LSTMState]:
        output, h_n, c_n = torch_lstm(x, *hx, self._flat_weights, **self._options())
        return output, LSTMState(h_n, c_n)

    def _options(self) -> dict[str, bool | int | float]:
        """The layer's arguments of :func:`rnnkit.kernels.torch_lstm.torch_lstm`."""
        return {
            "bias": self.bias, "num_layers": self.num_layers, "dropout": self.dropout,
            "training": self.training, "bidirectional": self.bidirectional,
        }

    def _forward_packed(self, packed: PackedSequence, hx: LSTMState) -> tuple[PackedSequence, LSTMState]:
        # the packed operator wants the state in the packed (length-sorted) batch order
        if packed.sorted_indices is not None:
            hx = LSTMState(*(t.index_select(1, packed.sorted_indices) for t in hx))
        data, h_n, c_n = torch_lstm(packed.data, *hx, self._flat_weights, batch_sizes=packed.batch_sizes,
                                    **self._options())
        state = LSTMState(h_n, c_n)
        if packed.unsorted_indices is not None:
            state = LSTMState(*(t.index_select(1, packed.unsorted_indices) for t in state))
        return PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices), state
