"""Recurrent layers: ``Recurrent(cell)`` for any cell, and the ``torch.nn`` drop-ins ``RNN``, ``LSTM``, ``GRU``."""

from rnnkit.layers.gru import GRU
from rnnkit.layers.lstm import LSTM
from rnnkit.layers.recurrent import Recurrent
from rnnkit.layers.rnn import RNN
from rnnkit.layers.rnn_base import RNNBase

__all__ = ["GRU", "LSTM", "RNN", "RNNBase", "Recurrent"]
