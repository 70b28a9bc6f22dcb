"""The cell contract: what a recurrent cell is, so that ``rnnkit.layers.Recurrent`` can run any of them.

A cell is an ``nn.Module`` that computes ONE time step. Subclass :class:`RecurrentCell` (or provide the
same members on any ``nn.Module``) and ``Recurrent`` runs it over sequences, stacked, in both
directions, with dropout, zoneout and sequence lengths. The built-in cells subclass
:class:`RNNCellBase`, which adds ``torch.nn``'s parameter layout and initialisation.

Required::

    cell.input_size: int                        # size of x_t
    cell.hidden_size: int                       # the cell's number of units H
    cell.initial_state(batch_size, *, dtype=None, device=None) -> State   # zeros
    cell.forward(x_t, state) -> (y_t, state)    # x_t: (B, input_size); y_t: (B, output_size)

The built-in cells also take ``state=None`` for the zero state and an unbatched ``x_t (input_size,)``,
as ``torch.nn``'s cells do.

``State`` is a ``Tensor`` of shape (B, ·) or a (named) tuple of such tensors (``LSTMState(h, c)``);
a layer stacks, slices and masks it leaf by leaf. Its first part is ``h``, the state that enters the
recurrent matmul.

Optional, with the defaults :class:`RecurrentCell` provides:

- ``cell.output_size: int`` (default ``hidden_size``): the size of ``y_t`` (an LSTM with a
  projection outputs ``proj_size``, which is also the size of its ``h``).
- ``cell.output(state) -> y_t`` (default: the state itself, or its first leaf, ``h``): the output read
  from a state. When a layer holds a state over a step (``keep`` below), the step's output is the
  output of the held state.
- ``cell.scan(x, state, *, keep=None, recurrent_mask=None) -> (ys, state)``: the whole sequence
  ``x: (T, B, input_size)`` at once, ``ys: (T, B, output_size)``. The default runs ``forward`` step by
  step (:func:`scan_steps`); the built-in cells project all inputs in one matmul and call a fused
  kernel. ``keep`` is a state-shaped structure of masks of shape (T, B, ·) or (T, B, 1): where 1 the
  state is carried over unchanged,

      s_t = keep_t * s_{t-1} + (1 - keep_t) * s~_t        (s~_t the cell's new state)

  which expresses zoneout and the end of a sequence alike.
- ``cell.supports_recurrent_mask: bool`` (default False): ``forward`` and ``scan`` take
  ``recurrent_mask`` of the shape of ``h``, (B, ·), which multiplies ``h_{t-1}`` where it enters the
  recurrent matmul (variational recurrent dropout: one mask for the whole sequence).
- ``cell.with_input_size(n) -> cell``: a fresh, newly initialised cell with the same options and input
  size ``n``; ``Recurrent`` builds stacked layers and the reverse direction from it.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.projection import input_projection
from rnnkit.cells.state import State, map_state, state_leaves


class RecurrentCell(nn.Module, metaclass=abc.ABCMeta):
    """Base of all cells: one step ``forward(x_t, state) -> (y_t, state)`` plus the contract's defaults."""

    input_size: int
    hidden_size: int
    supports_recurrent_mask: bool = False

    @property
    def output_size(self) -> int:
        return self.hidden_size

    def initial_state(
        self, batch_size: int, *, dtype: torch.dtype | None = None, device: torch.device | None = None
    ) -> State:
        """Zeros of shape (batch_size, hidden_size), in the dtype and device of the cell's parameters."""
        dtype, device = _default_factory(self, dtype, device)
        return torch.zeros(batch_size, self.hidden_size, dtype=dtype, device=device)

    @abc.abstractmethod
    def forward(self, x_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One step: ``x_t (B, input_size)`` and ``s_{t-1}`` to ``(y_t (B, output_size), s_t)``."""

    def output(self, state: State) -> Tensor:
        """The per-step output read from a state: the state itself or its first leaf."""
        return state_leaves(state)[0]

    def scan(
        self, x: Tensor, state: State, *, keep: State | None = None, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """The whole sequence ``x (T, B, input_size)``; see the module docstring for ``keep``."""
        return scan_steps(self, x, state, keep=keep, recurrent_mask=recurrent_mask)


class RNNCellBase(RecurrentCell):
    """A cell with ``torch.nn``'s parameter layout, as ``torch.nn.RNNCellBase``; a subclass writes its equations.

    ``gates`` is the number of gate blocks G: the parameters are ``weight_ih (G*H, I)``,
    ``weight_hh (G*H, R)`` (R = ``recurrent_size``, the size of ``h``: H unless a projection shrinks
    it), ``bias_ih (G*H,)`` and ``bias_hh (G*H,)`` (None without ``bias``), registered in that order.
    A subclass adds its own parameters after these and ends its ``__init__`` with
    ``self.reset_parameters()``. Its constructor options beyond the sizes are named by :meth:`options`,
    from which :meth:`with_input_size` rebuilds it.
    """

    gates: int

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        *,
        recurrent_size: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_sizes(input_size, hidden_size)
        kw = {"device": device, "dtype": dtype}
        G, R = self.gates * hidden_size, recurrent_size or hidden_size
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = nn.Parameter(torch.empty(G, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(G, R, **kw))
        self.bias_ih = nn.Parameter(torch.empty(G, **kw)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(G, **kw)) if bias else None

    def reset_parameters(self) -> None:
        init_uniform(self.parameters(), self.hidden_size)

    def options(self) -> dict[str, Any]:
        """The constructor's arguments beyond ``input_size`` and ``hidden_size``, by name."""
        return {"bias": self.bias}

    def with_input_size(self, input_size: int) -> RNNCellBase:
        return type(self)(input_size, self.hidden_size, **self.options(),
                          device=self.weight_ih.device, dtype=self.weight_ih.dtype)

    def extra_repr(self) -> str:
        options = "".join(f", {name}={value!r}" for name, value in self.options().items())
        return f"{self.input_size}, {self.hidden_size}{options}"


class ProjectedInputCell(RNNCellBase):
    """A cell whose equations start from the input projection ``xp_t = W_ih x_t + b_ih`` (all built-in cells).

    The subclass writes them in :meth:`step`, which takes ``xp_t`` ready-made; ``forward`` computes it
    for one step, and :meth:`project_input` for a whole sequence in one matmul, so that a wrapper running
    the steps itself (``DeepTransition.scan``) keeps that product out of its loop.
    """

    def forward(
        self, x_t: Tensor, state: State | None = None, *, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """One step; ``state=None`` starts from zeros and an unbatched ``x_t (input_size,)`` gives unbatched
        ``y_t`` and state, as ``torch.nn``'s cells do."""
        if x_t.dim() == 1:
            return unbatched_step(self, x_t, state, recurrent_mask)
        if x_t.dim() != 2:
            raise ValueError(
                f"{type(self).__name__}: x_t must be (B, input_size) or (input_size,), got {tuple(x_t.shape)}"
            )
        if state is None:
            state = self.initial_state(x_t.shape[0], dtype=x_t.dtype, device=x_t.device)
        return self.step(F.linear(x_t, self.weight_ih, self.bias_ih), state, recurrent_mask=recurrent_mask)

    @abc.abstractmethod
    def step(self, xp_t: Tensor, state: State, *, recurrent_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """One step from ``xp_t = W_ih x_t + b_ih`` (B, G*H) and ``s_{t-1}`` to ``(y_t, s_t)``."""

    def project_input(self, x: Tensor) -> Tensor:
        """``x (T, B, input_size)`` to ``x W_ih^T + b_ih`` of shape (T, B, G*H), every step in one matmul."""
        return input_projection(x, self.weight_ih, self.bias_ih)


def unbatched_step(
    cell: nn.Module, x_t: Tensor, state: State | None, recurrent_mask: Tensor | None
) -> tuple[Tensor, State]:
    """``cell``'s step on one unbatched ``x_t (input_size,)``: run as a batch of one, returned without it."""
    if state is not None:
        if any(leaf.dim() != 1 for leaf in state_leaves(state)):
            raise ValueError(f"{type(cell).__name__}: an unbatched x_t needs an unbatched (1-D) state")
        state = map_state(lambda s: s[None], state)  # (1, ·)
    mask = None if recurrent_mask is None else recurrent_mask[None]
    extra = {} if mask is None else {"recurrent_mask": mask}
    y_t, state = cell(x_t[None], state, **extra)
    return y_t[0], map_state(lambda s: s[0], state)


def _default_factory(
    module: nn.Module, dtype: torch.dtype | None, device: torch.device | None
) -> tuple[torch.dtype, torch.device]:
    """The dtype and device of ``module``'s first parameter where not given."""
    param = next(module.parameters(), None)
    if dtype is None:
        dtype = param.dtype if param is not None else torch.get_default_dtype()
    if device is None:
        device = param.device if param is not None else torch.device("cpu")
    return dtype, device


def cell_output(cell: nn.Module, state: State) -> Tensor:
    """``cell.output(state)`` if the cell defines it, else the contract's default (the first leaf)."""
    output = getattr(cell, "output", None)
    return output(state) if output is not None else state_leaves(state)[0]


def scan_steps(
    cell: nn.Module,
    x: Tensor,
    state: State,
    *,
    keep: State | None = None,
    recurrent_mask: Tensor | None = None,
    step: Callable[..., tuple[Tensor, State]] | None = None,
) -> tuple[Tensor, State]:
    """Run ``cell.forward`` over ``x (T, B, input_size)``, one step at a time.

    With ``keep``: ``s_t = keep_t * s_{t-1} + (1 - keep_t) * s~_t`` and ``y_t = cell.output(s_t)``.
    ``step`` replaces ``cell.forward`` (same signature) for a loop over other per-step inputs, such as
    input projections ``(T, B, G*H)`` computed beforehand. The steps come from ``x.unbind(0)``: indexing
    ``x[t]`` in a loop would make the backward pass accumulate a full-size gradient of ``x`` at every
    step (quadratic in T).
    """
    if recurrent_mask is not None and not getattr(cell, "supports_recurrent_mask", False):
        raise ValueError(f"{type(cell).__name__} does not take a recurrent_mask (supports_recurrent_mask is False)")
    extra = {} if recurrent_mask is None else {"recurrent_mask": recurrent_mask}
    keeps = None
    if keep is not None:
        per_leaf = [k.unbind(0) for k in state_leaves(keep)]  # each (B, ·), T of them
        keeps = list(zip(*per_leaf))
    ys = []
    for t, x_t in enumerate(x.unbind(0)):
        y_t, new_state = (cell if step is None else step)(x_t, state, **extra)
        if keeps is not None:
            it = iter(keeps[t])
            keep_t = map_state(lambda _: next(it), state)
            state = map_state(lambda k, s, s_new: k * s + (1 - k) * s_new, keep_t, state, new_state)
            y_t = cell_output(cell, state)
        else:
            state = new_state
        ys.append(y_t)
    return torch.stack(ys), state  # (T, B, output_size)


def init_uniform(parameters, hidden_size: int) -> None:
    """``torch.nn``'s initialisation of recurrent weights and biases: U(-1/sqrt(H), 1/sqrt(H))."""
    bound = 1.0 / hidden_size**0.5
    with torch.no_grad():
        for p in parameters:
            p.uniform_(-bound, bound)


def check_sizes(input_size: int, hidden_size: int) -> None:
    """Sizes of a cell are positive integers."""
    if input_size < 1 or hidden_size < 1:
        raise ValueError(f"input_size and hidden_size must be positive, got {input_size} and {hidden_size}")
