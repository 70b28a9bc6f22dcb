"""A deep hidden-to-hidden transition around any cell (Pascanu et al. 2014, DT-RNN and DT(S)-RNN)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from rnnkit.cells.base import ProjectedInputCell, RecurrentCell, cell_output, scan_steps, unbatched_step
from rnnkit.cells.lstm import LSTMCell
from rnnkit.cells.rnn import RNNCell
from rnnkit.cells.state import State, state_leaves, unflatten_state
from rnnkit.kernels.transition import Transition, activation_name

# The dtypes the scan kernels compute in; others (float16) keep the step path.
_KERNEL_DTYPES = (torch.float32, torch.float64, torch.bfloat16)


class DeepTransition(RecurrentCell):
    r"""An MLP on the path from :math:`h_{t-1}` to the wrapped cell's recurrent input (seed 002, ways 2 and 3).

    .. math::
        u_0 &= m \odot h_{t-1}                                               \\
        u_k &= \phi(W_k u_{k-1} + b_k), \quad k = 1, \dots, L               \\
        h'_{t-1} &= u_L \quad\text{or, with skip,}\quad h'_{t-1} = u_0 + u_L  \\
        (y_t, s_t) &= \mathrm{cell}(x_t, s_{t-1}[h_{t-1} \to h'_{t-1}])

    :math:`L` = ``depth`` layers ``transition[k-1]`` of size R x R (R the size of :math:`h`), :math:`\phi` =
    ``activation``, :math:`m` the optional recurrent dropout mask (1 otherwise). Deeper transitions
    lengthen the shortest path from one step to the next; the skip connection (DT(S)-RNN, the third way of
    seed 002) keeps a path of length one. Only :math:`h` goes through the MLP: an LSTM's memory
    :math:`c_{t-1}` (any state part after the first) reaches the cell unchanged.
    """

    supports_recurrent_mask = True

    def __init__(
        self,
        cell: nn.Module,
        depth: int = 1,
        activation: Callable[[Tensor], Tensor] = torch.tanh,
        skip: bool = False,
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self.cell, self.depth, self.activation, self.skip = cell, depth, activation, skip
        self.input_size, self.hidden_size = cell.input_size, cell.hidden_size
        probe = state_leaves(cell.initial_state(1))[0]
        R = probe.shape[-1]
        self.transition = nn.ModuleList(
            nn.Linear(R, R, device=probe.device, dtype=probe.dtype) for _ in range(depth)
        )

    @property
    def output_size(self) -> int:
        return getattr(self.cell, "output_size", self.cell.hidden_size)

    def initial_state(
        self, batch_size: int, *, dtype: torch.dtype | None = None, device: torch.device | None = None
    ) -> State:
        return self.cell.initial_state(batch_size, dtype=dtype, device=device)

    def output(self, state: State) -> Tensor:
        return cell_output(self.cell, state)

    def forward(
        self, x_t: Tensor, state: State | None = None, *, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        if x_t.dim() == 1:
            return unbatched_step(self, x_t, state, recurrent_mask)
        if state is None:  # zeros, as the built-in cells start from
            state = self.initial_state(x_t.shape[0], dtype=x_t.dtype, device=x_t.device)
        return self.cell(x_t, self._transition(state, recurrent_mask))

    def step(self, xp_t: Tensor, state: State, *, recurrent_mask: Tensor | None = None) -> tuple[Tensor, State]:
        """One step from the wrapped cell's input projection ``xp_t`` (see :meth:`scan`)."""
        return self.cell.step(xp_t, self._transition(state, recurrent_mask))

    def _transition(self, state: State, recurrent_mask: Tensor | None) -> State:
        """The state with ``h_{t-1}`` replaced by ``h'_{t-1}``, the output of the transition MLP."""
        h, *rest = state_leaves(state)
        u_0 = h if recurrent_mask is None else recurrent_mask * h
        u = u_0
        for W_k in self.transition:
            u = self.activation(W_k(u))
        h_prime = u_0 + u if self.skip else u
        return unflatten_state(state, [h_prime, *rest])

    def scan(
        self, x: Tensor, state: State, *, keep: State | None = None, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """All steps: in the wrapped cell's fused kernel where one runs the transition, else one at a time.

        The fused path: an ``RNNCell`` (tanh or relu; the DT-RNN) or an ``LSTMCell`` without projection,
        and an activation whose derivative the kernel knows (``activation_name``: tanh, relu, sigmoid as
        torch functions or modules), hand the transition to the cell's ``scan``, whose kernel runs the
        MLP inside its loop through time and backpropagates through it by hand
        (:mod:`rnnkit.kernels.transition`). A GRU or minimal GRU stays on the step path (see
        :meth:`_fused_transition`).

        Otherwise the steps run one at a time under autograd. When the wrapped cell takes its input
        projection ready-made (a ``ProjectedInputCell``: every built-in cell), the projections of all
        steps are one matmul before the loop instead of one small matmul and one module call a step.
        Measured around an LSTM cell (then on this path), H 256, 100 steps: 24% less time at batch 1 in
        inference, 21-23% less at batch 1 and 8 in training, the same at batch 32 (H 512); 4-8% more in
        training at batch 64, where the projections' gradient arrives as one more (T, B, 4H) buffer to fill.
        """
        fused = self._fused_transition()
        if fused is not None:
            return self.cell.scan(x, state, keep=keep, recurrent_mask=recurrent_mask, transition=fused)
        if not isinstance(self.cell, ProjectedInputCell):
            return scan_steps(self, x, state, keep=keep, recurrent_mask=recurrent_mask)
        xp = self.cell.project_input(x)  # (T, B, G*H)
        return scan_steps(self, xp, state, keep=keep, recurrent_mask=recurrent_mask, step=self.step)

    def _fused_transition(self) -> Transition | None:
        """The MLP as the wrapped cell's kernel takes it, or None where no kernel runs it (another cell, an
        LSTM with projection, an activation other than tanh, relu, sigmoid, a dtype the kernels do not take
        such as float16).

        A kernel can run the MLP where its cell reads ``h_{t-1}`` only through the recurrent product, which
        then takes ``h'_{t-1}``: the simple RNN, and the LSTM (whose memory bypasses the MLP). A GRU's or
        minimal GRU's ``h_{t-1}`` also enters the interpolation that makes ``h_t`` (``z_t h_{t-1}``,
        ``(1 - gamma_u) h_{t-1}``), where the step path gives the cell ``h'_{t-1}`` too; their kernels take
        ``h_{t-1}`` there and in its backward, so these cells keep the step path. An LSTM with projection
        has no kernel at all. The cell's class must be exactly ``RNNCell`` or ``LSTMCell``: a subclass may
        change the step the kernel would replace.
        """
        name = activation_name(self.activation)
        cell_type = type(self.cell)
        kernel_runs_it = (cell_type is RNNCell or (cell_type is LSTMCell and not self.cell.proj_size)) and (
            self.cell.weight_hh.dtype in _KERNEL_DTYPES
        )
        if name is None or not kernel_runs_it:
            return None
        layers = tuple(self.transition)
        return Transition(tuple(W_k.weight for W_k in layers), tuple(W_k.bias for W_k in layers), name, self.skip)

    def with_input_size(self, input_size: int) -> DeepTransition:
        return DeepTransition(self.cell.with_input_size(input_size), self.depth, self.activation, self.skip)

    def extra_repr(self) -> str:
        return f"depth={self.depth}, skip={self.skip}"
