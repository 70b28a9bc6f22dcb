"""The recurrent layer inside a model: built from a cell name, run over a padded batch with lengths.

The layer is one of rnnkit's ``torch.nn`` drop-ins (``LSTM``, ``GRU``, ``RNN``), always batch-first.
A padded batch is packed before it enters the layer, so padding never reaches the recurrence: each
example's outputs and final state are those it would get alone.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.layers import GRU, LSTM, RNN

CellType = Literal["lstm", "gru", "rnn"]
CELL_TYPES: tuple[str, ...] = ("lstm", "gru", "rnn")
_LAYERS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}

State = Tensor | tuple[Tensor, Tensor]


def recurrent_layer(
    cell: CellType,
    input_size: int,
    hidden_size: int,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
) -> nn.Module:
    """A batch-first ``LSTM``/``GRU``/``RNN`` (tanh); ``dropout`` acts between stacked layers only."""
    if cell not in _LAYERS:
        raise ValueError(f"cell must be one of {CELL_TYPES}, got {cell!r}")
    return _LAYERS[cell](
        input_size,
        hidden_size,
        num_layers=num_layers,
        batch_first=True,
        bidirectional=bidirectional,
        # torch warns when dropout is set on a single layer, where it would do nothing
        dropout=dropout if num_layers > 1 else 0.0,
    )


def check_lengths(lengths: Tensor, batch_size: int, max_len: int, name: str = "lengths") -> None:
    """``lengths`` is an integer ``(B,)`` tensor with every entry in ``[1, max_len]``."""
    if lengths.dim() != 1 or lengths.size(0) != batch_size:
        raise ValueError(f"{name} must have shape ({batch_size},), got {tuple(lengths.shape)}")
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer tensor, got dtype {lengths.dtype}")
    bad = ((lengths < 1) | (lengths > max_len)).nonzero()
    if bad.numel():
        i = int(bad[0, 0])
        raise ValueError(f"{name}[{i}] = {int(lengths[i])} is outside [1, {max_len}] (the padded length)")


def run_padded(rnn: nn.Module, inputs: Tensor, lengths: Tensor, state: State | None = None) -> tuple[Tensor, State]:
    """Run a batch-first ``rnn`` over ``inputs (B, T, D)`` whose example ``b`` has ``lengths[b]`` steps.

    Returns ``outputs (B, T, num_directions * H)``, exactly zero at padded steps, and the final state
    (``(num_layers * num_directions, B, H)``, a pair for LSTM) taken at each example's own last step.
    """
    packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
    packed_outputs, state = rnn(packed, state)
    outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=inputs.size(1))
    return outputs, state  # (B, T, D * H)
