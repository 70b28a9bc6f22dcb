"""``Recurrent(cell)``: any cell that keeps the cell contract, run over whole sequences.

Stacked layers, both directions, dropout between layers, residual connections, variational recurrent
dropout, zoneout, and batches of sequences of different lengths (``lengths`` or a ``PackedSequence``).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from rnnkit.cells.base import scan_steps
from rnnkit.cells.state import State, map_state, state_leaves, unflatten_state
from rnnkit.layers.masks import as_lengths, dropout_mask, hold_after_end, valid_mask, zoneout_keep
from rnnkit.layers.packing import repack, unpack


def _output_size(cell: nn.Module) -> int:
    return getattr(cell, "output_size", cell.hidden_size)


class Recurrent(nn.Module):
    r"""Runs a recurrent cell over sequences: ``forward(x, state=None, lengths=None) -> (outputs, final_state)``.

    Layer :math:`l` and direction :math:`d` is the cell ``cells[l * D + d]`` (D = 2 if bidirectional, else 1;
    the order of ``torch.nn``'s stacked states). From one ``cell``, the reverse direction is
    ``cell.with_input_size(cell.input_size)`` and layer :math:`l > 0` is ``cell.with_input_size(D * H_out)``,
    each newly initialised; or pass the list of all ``num_layers * D`` cells.

    For layer :math:`l` with input :math:`u^{(l)}` (:math:`u^{(0)} = x`):

    .. math::
        \overrightarrow{y}_t &= \mathrm{cell}_{l,0}(u^{(l)}_t, \overrightarrow{s}_{t-1}),\quad
        \overleftarrow{y}_t = \mathrm{cell}_{l,1}(u^{(l)}_t, \overleftarrow{s}_{t+1})   \\
        y^{(l)}_t &= [\overrightarrow{y}_t; \overleftarrow{y}_t] \; (+\, u^{(l)}_t \text{ if residual and } l > 0) \\
        u^{(l+1)} &= \mathrm{dropout}(y^{(l)})

    - ``dropout``: on the outputs of every layer but the last, in training (as ``torch.nn.LSTM``).
    - ``residual``: adds each stacked layer's input to its output (layers :math:`l \ge 1`; their sizes must match).
    - ``recurrent_dropout`` :math:`p` (Gal & Ghahramani 2016): in training, one mask
      :math:`m \in \{0, 1/(1-p)\}^{B \times H}` per sequence and direction multiplies :math:`h_{t-1}` where it
      enters the recurrent matmul, the same at every step. Needs ``cell.supports_recurrent_mask``.
    - ``zoneout`` :math:`z` (Krueger et al. 2017; a float, or a pair ``(z_h, z_c)`` for an ``LSTMState``):
      :math:`s_t = k_t \odot s_{t-1} + (1 - k_t) \odot \tilde s_t` with :math:`k_t \sim \mathrm{Bernoulli}(z)`
      per unit and step in training, and :math:`k_t = z` (its expectation) at evaluation.
    - ``lengths`` (B,): sequence :math:`b` ends after ``lengths[b]`` steps. Its state is held from then on
      (keep mask 1), its outputs at the padding are 0, and the final state is the one after its last step;
      the reverse direction starts at each sequence's own last step. A ``PackedSequence`` input is the
      same with the lengths it carries, and gives a ``PackedSequence`` back.

    Shapes: ``x`` (T, B, I), or (B, T, I) with ``batch_first``; outputs (T, B, D * H_out); ``state`` and
    ``final_state`` have each state part stacked as (num_layers * D, B, ·), e.g. ``LSTMState(h, c)``.
    """

    def __init__(
        self,
        cell: nn.Module | Sequence[nn.Module],
        num_layers: int | None = None,
        bidirectional: bool = False,
        batch_first: bool = False,
        dropout: float = 0.0,
        residual: bool = False,
        recurrent_dropout: float = 0.0,
        zoneout: float | tuple[float, float] = 0.0,
    ) -> None:
        super().__init__()
        D = 2 if bidirectional else 1
        cells = self._build_cells(cell, num_layers, D)
        self.num_layers, self.num_directions = len(cells) // D, D
        self.bidirectional, self.batch_first, self.residual = bidirectional, batch_first, residual
        self.dropout = _probability("dropout", dropout)
        self.recurrent_dropout = _probability("recurrent_dropout", recurrent_dropout)
        zs = zoneout if isinstance(zoneout, (tuple, list)) else (zoneout,)
        self.zoneout = tuple(_probability("zoneout", z) for z in zs)
        self.cells = nn.ModuleList(cells)
        self._check_cells()
        parts = len(state_leaves(cells[0].initial_state(1)))
        if len(self.zoneout) not in (1, parts):
            raise ValueError(f"zoneout {zoneout} gives {len(self.zoneout)} probabilities but the state of "
                             f"{type(cells[0]).__name__} has {parts} part(s)")

    @staticmethod
    def _build_cells(cell, num_layers: int | None, D: int) -> list[nn.Module]:
        if isinstance(cell, (list, tuple, nn.ModuleList)):
            cells = list(cell)
            if not cells or len(cells) % D or (num_layers is not None and num_layers * D != len(cells)):
                raise ValueError(
                    f"got {len(cells)} cells; expected num_layers * {D} (one per layer and direction)"
                    + (f" with num_layers={num_layers}" if num_layers is not None else "")
                )
            return cells
        num_layers = 1 if num_layers is None else num_layers
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        if (num_layers > 1 or D > 1) and not hasattr(cell, "with_input_size"):
            raise ValueError(
                f"{type(cell).__name__} has no with_input_size(n): pass a list of num_layers * {D} cells instead"
            )
        cells = [cell] + ([cell.with_input_size(cell.input_size)] if D == 2 else [])
        for _ in range(1, num_layers):
            cells += [cell.with_input_size(D * _output_size(cell)) for _ in range(D)]
        return cells

    def _check_cells(self) -> None:
        D = self.num_directions
        for l in range(self.num_layers):
            layer = self.cells[l * D : (l + 1) * D]
            want = self.cells[0].input_size if l == 0 else D * _output_size(self.cells[l * D - 1])
            for d, cell in enumerate(layer):
                if cell.input_size != want:
                    raise ValueError(
                        f"cell {l * D + d} (layer {l}) has input_size {cell.input_size}, expected {want}"
                    )
                if _output_size(cell) != _output_size(layer[0]):
                    raise ValueError(f"the directions of layer {l} have different output sizes")
                if self.recurrent_dropout and not getattr(cell, "supports_recurrent_mask", False):
                    raise ValueError(
                        f"recurrent_dropout needs cells that take a recurrent_mask; {type(cell).__name__} does not"
                    )
            if self.residual and l > 0 and want != D * _output_size(layer[0]):
                raise ValueError(
                    f"residual: layer {l} maps size {want} to {D * _output_size(layer[0])}; they must match"
                )

    @property
    def input_size(self) -> int:
        return self.cells[0].input_size

    @property
    def output_size(self) -> int:
        """Size of each step's output: ``num_directions * H_out`` of the last layer."""
        return self.num_directions * _output_size(self.cells[-1])

    def forward(
        self, x: Tensor | PackedSequence, state: State | None = None, lengths: Tensor | Sequence[int] | None = None
    ) -> tuple[Tensor | PackedSequence, State]:
        packed = x if isinstance(x, PackedSequence) else None
        if packed is not None:
            if lengths is not None:
                raise ValueError("a PackedSequence carries its own lengths; do not pass lengths too")
            x, lengths = unpack(packed)
        elif self.batch_first:
            x = x.transpose(0, 1)  # (T, B, I)
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"input must be (T, B, {self.input_size}) (time-major), got {tuple(x.shape)}")
        T, B, _ = x.shape
        valid = None
        if lengths is not None:
            lengths = as_lengths(lengths, B, T)
            valid = valid_mask(lengths, T, dtype=x.dtype, device=x.device)  # (T, B)
        states = self._split_state(state, B, x)
        D, finals, u = self.num_directions, [], x
        for l in range(self.num_layers):
            outs = []
            for d in range(D):
                i = l * D + d
                ys, s_T = self._run(self.cells[i], u, states[i], valid, reverse=d == 1)
                outs.append(ys)
                finals.append(s_T)
            y = outs[0] if D == 1 else torch.cat(outs, -1)  # (T, B, D * H_out)
            if valid is not None:
                y = y * valid[..., None]
            if self.residual and l > 0:
                y = y + u
            if self.dropout and self.training and l < self.num_layers - 1:
                y = F.dropout(y, self.dropout, training=True)
            u = y
        final = map_state(lambda *leaves: torch.stack(leaves), *finals)  # each part (L * D, B, ·)
        if packed is not None:
            return repack(u, lengths, packed), final
        return (u.transpose(0, 1) if self.batch_first else u), final

    def _split_state(self, state: State | None, B: int, x: Tensor) -> list[State]:
        """The initial state of each cell: zeros, or slices of a stacked (L * D, B, ·) state."""
        zeros = [cell.initial_state(B, dtype=x.dtype, device=x.device) for cell in self.cells]
        if state is None:
            return zeros
        n, given, wanted = len(self.cells), state_leaves(state), state_leaves(zeros[0])
        if len(given) != len(wanted):
            raise ValueError(f"the state has {len(given)} part(s) but the cell's has {len(wanted)} "
                             f"({type(zeros[0]).__name__})")
        for got, want in zip(given, wanted):
            if tuple(got.shape) != (n, *want.shape):
                raise ValueError(f"state parts must be (num_layers * num_directions, B, ·) = {(n, *want.shape)}, "
                                 f"got {tuple(got.shape)}")
        # in the cell's own structure: a plain (h, c) tuple becomes the LSTMState the cell reads .h, .c of
        return [unflatten_state(zeros[0], [leaf[i] for leaf in given]) for i in range(n)]

    def _run(
        self, cell: nn.Module, x: Tensor, s0: State, valid: Tensor | None, *, reverse: bool
    ) -> tuple[Tensor, State]:
        """One layer and direction; the reverse one runs on the time-flipped batch.

        Flipped, a padded sequence starts with its padding, where the keep mask holds the initial state,
        so each sequence runs backwards from its own last step.
        """
        T, B, _ = x.shape
        leaves = state_leaves(s0)
        keep = self._zoneout_keep(leaves, T, B, x)
        if valid is not None:
            keep = [hold_after_end(k, valid) for k in (keep or [None] * len(leaves))]
        mask = None
        if self.recurrent_dropout and self.training:
            mask = dropout_mask(self.recurrent_dropout, tuple(leaves[0].shape), dtype=x.dtype, device=x.device)
        if reverse:
            x = x.flip(0)
            keep = None if keep is None else [k.flip(0) for k in keep]
        keep = None if keep is None else unflatten_state(s0, keep)
        scan = getattr(cell, "scan", None)
        if scan is not None:
            ys, s_T = scan(x, s0, keep=keep, recurrent_mask=mask)
        else:
            ys, s_T = scan_steps(cell, x, s0, keep=keep, recurrent_mask=mask)
        return (ys.flip(0) if reverse else ys), s_T

    def _zoneout_keep(self, leaves: list[Tensor], T: int, B: int, x: Tensor) -> list[Tensor] | None:
        """One zoneout keep mask per state part, or None without zoneout."""
        if not any(self.zoneout):
            return None
        probs = self.zoneout * len(leaves) if len(self.zoneout) == 1 else self.zoneout
        return [
            zoneout_keep(p, (T, B, leaf.shape[-1]), training=self.training, dtype=x.dtype, device=x.device)
            for p, leaf in zip(probs, leaves)
        ]

    def extra_repr(self) -> str:
        s = f"num_layers={self.num_layers}, bidirectional={self.bidirectional}, batch_first={self.batch_first}"
        for name in ("dropout", "recurrent_dropout"):
            if getattr(self, name):
                s += f", {name}={getattr(self, name)}"
        if any(self.zoneout):
            s += f", zoneout={self.zoneout}"
        if self.residual:
            s += ", residual=True"
        return s


def _probability(name: str, p: float) -> float:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1), got {p}")
    return float(p)
