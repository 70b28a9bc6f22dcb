"""A deep hidden-to-hidden transition around any cell (Pascanu et al. 2014, DT-RNN and DT(S)-RNN)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from rnnkit.cells.base import RecurrentCell, cell_output
from rnnkit.cells.state import State, state_leaves, unflatten_state


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

    def forward(self, x_t: Tensor, state: State, *, recurrent_mask: Tensor | None = None) -> tuple[Tensor, State]:
        h, *rest = state_leaves(state)
        u_0 = h if recurrent_mask is None else recurrent_mask * h
        u = u_0
        for W_k in self.transition:
            u = self.activation(W_k(u))
        h_prime = u_0 + u if self.skip else u
        return self.cell(x_t, unflatten_state(state, [h_prime, *rest]))

    def with_input_size(self, input_size: int) -> DeepTransition:
        return DeepTransition(self.cell.with_input_size(input_size), self.depth, self.activation, self.skip)

    def extra_repr(self) -> str:
        return f"depth={self.depth}, skip={self.skip}"
