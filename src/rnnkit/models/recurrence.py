"""The recurrent layer inside a model: a typed description, built into a layer, run over a padded batch.

Every model config chooses its cell with a field ``cell`` and inherits rnnkit's cell and layer options
from :class:`RecurrentOptions` (layer normalisation, peepholes, forget-gate bias, variational recurrent
dropout, zoneout). For each recurrent layer a model makes a :class:`RecurrentConfig` (cell, sizes,
stacking, directions, dropout and those options), and :func:`recurrent_layer` builds it:

- with none of the options set and a cell that has one, a ``torch.nn`` drop-in (``LSTM``, ``GRU``,
  ``RNN`` from :mod:`rnnkit.layers`, whole layers on fused kernels);
- otherwise ``rnnkit.layers.Recurrent(cell, ...)`` around the cell from :mod:`rnnkit.cells`
  (``LSTMCell(layer_norm=..., peephole=..., forget_bias=...)``, ``GRUCell``, ``RNNCell``,
  ``MinimalGRUCell``), which adds recurrent dropout and zoneout.

Both are batch-first, take a ``PackedSequence`` and return states of the same shapes
(``(num_layers * D, B, H)``; ``LSTMState(h, c)`` for an LSTM), so a model works the same on either.
A padded batch is packed before it enters the layer, so padding never reaches the recurrence: each
example's outputs and final state are those it would get alone.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.cells import GRUCell, LSTMCell, LSTMState, MinimalGRUCell, RNNCell, map_state
from rnnkit.layers import GRU, LSTM, RNN, Recurrent
from rnnkit.models.config_checks import check_choice, check_positive, check_probability

CellType = Literal["lstm", "gru", "rnn", "minimal_gru"]
CELL_TYPES: tuple[str, ...] = ("lstm", "gru", "rnn", "minimal_gru")
_CELLS = {"lstm": LSTMCell, "gru": GRUCell, "rnn": RNNCell, "minimal_gru": MinimalGRUCell}
_DROP_INS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
_LSTM_ONLY = ("layer_norm", "peephole", "forget_bias")

State = Tensor | LSTMState


@dataclass(kw_only=True)
class RecurrentOptions:
    """rnnkit's options for a model's recurrent layers, inherited by every model config (keyword-only).

    The config that inherits them has a field ``cell``; the LSTM options need ``cell="lstm"``.
    Recurrent dropout and zoneout act in training only (zoneout keeps its expectation at evaluation).
    """

    layer_norm: bool = False  # LSTM: normalise the gates and the cell (Ba et al. 2016), steadier deep or long training
    peephole: bool = False  # LSTM: gates also read the cell state (Gers & Schmidhuber 2000), for precise timing
    forget_bias: float | None = None  # LSTM: initial forget-gate bias (1.0 keeps memory early on); None: uniform
    recurrent_dropout: float = 0.0  # dropout on h_{t-1}, one mask per sequence (Gal & Ghahramani 2016)
    zoneout: float = 0.0  # probability that a unit keeps its previous value at a step (Krueger et al. 2017)

    def check_recurrent_options(self) -> None:
        """Validate the options against ``self.cell``; each error names the field and its value."""
        name = type(self).__name__
        check_choice(self, "cell", CELL_TYPES)
        check_probability(self, "recurrent_dropout")
        check_probability(self, "zoneout")
        bias = self.forget_bias
        if bias is not None and (isinstance(bias, bool) or not isinstance(bias, (int, float))):
            raise ValueError(f"{name}.forget_bias must be a number or None, got {self.forget_bias!r}")
        if self.cell != "lstm":
            for field in _LSTM_ONLY:
                value = getattr(self, field)
                if value not in (False, None):
                    raise ValueError(f"{name}.{field}={value!r} is an LSTM option, but cell={self.cell!r}")

    def recurrent_config(
        self, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
        dropout: float = 0.0,
    ) -> RecurrentConfig:
        """One recurrent layer of this model: its sizes here, the cell and options from the config."""
        return RecurrentConfig(
            self.cell, input_size, hidden_size, num_layers, bidirectional, dropout, **self.option_values()
        )

    def option_values(self) -> dict[str, Any]:
        """The options as keyword arguments (of :class:`RecurrentConfig`, for instance)."""
        return {f.name: getattr(self, f.name) for f in fields(RecurrentOptions)}


@dataclass
class RecurrentConfig(RecurrentOptions):
    """A batch-first recurrent layer, built by :func:`recurrent_layer`."""

    cell: CellType  # which cell runs each step
    input_size: int  # features of each step's input
    hidden_size: int  # state size per direction
    num_layers: int = 1  # stacked layers
    bidirectional: bool = False  # a second direction reads the sequence backwards; outputs are concatenated
    dropout: float = 0.0  # on the outputs of every layer but the last (as torch.nn.LSTM), in training

    def __post_init__(self) -> None:
        check_positive(self, "input_size", "hidden_size", "num_layers")
        check_probability(self, "dropout")
        self.check_recurrent_options()

    @property
    def uses_drop_in(self) -> bool:
        """Whether the layer is a ``torch.nn`` drop-in: a cell that has one and no option beyond it."""
        plain = not (self.layer_norm or self.peephole or self.recurrent_dropout or self.zoneout)
        return self.cell in _DROP_INS and plain and self.forget_bias is None


def recurrent_layer(config: RecurrentConfig) -> nn.Module:
    """The layer ``config`` describes: a drop-in when :attr:`RecurrentConfig.uses_drop_in`, else
    ``Recurrent(cell, ...)``. ``forward(x (B, T, I) or PackedSequence, state=None) -> (outputs, state)``."""
    c = config
    # torch warns when dropout is set on a single layer, where it would do nothing
    dropout = c.dropout if c.num_layers > 1 else 0.0
    if c.uses_drop_in:
        return _DROP_INS[c.cell](
            c.input_size, c.hidden_size, num_layers=c.num_layers, batch_first=True,
            bidirectional=c.bidirectional, dropout=dropout,
        )
    options = {name: getattr(c, name) for name in _LSTM_ONLY} if c.cell == "lstm" else {}
    cell = _CELLS[c.cell](c.input_size, c.hidden_size, **options)
    return Recurrent(
        cell, num_layers=c.num_layers, bidirectional=c.bidirectional, batch_first=True, dropout=dropout,
        recurrent_dropout=c.recurrent_dropout, zoneout=c.zoneout,
    )


def zero_state(cell: CellType, num_layers: int, batch_size: int, hidden_size: int, like: Tensor) -> State:
    """A zero state ``(num_layers, B, H)`` on ``like``'s device and dtype; ``LSTMState(h, c)`` for an LSTM."""
    h = like.new_zeros(num_layers, batch_size, hidden_size)
    return LSTMState(h, torch.zeros_like(h)) if cell == "lstm" else h


def select_rows(state: State, index: Tensor) -> State:
    """Rows ``index (N',)`` of a stacked ``(num_layers * D, N, H)`` state (dim 1), e.g. to reorder beams."""
    return map_state(lambda part: part.index_select(1, index), state)


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
    (``(num_layers * num_directions, B, H)``, ``LSTMState`` for an LSTM) taken at each example's own last step.
    """
    packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
    packed_outputs, state = rnn(packed, state)
    outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=inputs.size(1))
    return outputs, state  # (B, T, D * H)
