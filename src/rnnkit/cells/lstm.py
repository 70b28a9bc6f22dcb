"""The long short-term memory cell, with optional peepholes, layer normalisation and projection."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells.base import ProjectedInputCell, check_sizes, scan_steps
from rnnkit.cells.projection import input_projection, summed_bias
from rnnkit.cells.state import LSTMState

from rnnkit.kernels.lstm import lstm_scan, plain_runs_native
from rnnkit.kernels.torch_lstm import torch_lstm
from rnnkit.kernels.transition import Transition


class LSTMCell(ProjectedInputCell):
    r"""One step of an LSTM (Hochreiter & Schmidhuber 1997; seed 000 eq. 3-9, seed 001), as ``torch.nn``.

    .. math::
        a_t &= W_{ih} x_t + b_{ih} + W_{hh} (m \odot h_{t-1}) + b_{hh}            \\
        a_t &\leftarrow \mathrm{LN}_{gates}(a_t)  \quad\text{(layer\_norm only)}    \\
        a_i, a_f, a_g, a_o &= a_t                                                 \\
        i_t &= \sigma(a_i + w_{ci} \odot c_{t-1})                                 \\
        f_t &= \sigma(a_f + w_{cf} \odot c_{t-1})                                 \\
        g_t &= \tanh(a_g)                                                         \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t                                  \\
        o_t &= \sigma(a_o + w_{co} \odot c_t)                                     \\
        h_t &= W_{hr} (o_t \odot \tanh(\mathrm{LN}_c(c_t)))

    - :math:`m`: the optional recurrent dropout mask (1 otherwise).
    - Peepholes (``peephole=True``; Gers & Schmidhuber 2000; seed 002 "the cell state as an extra input
      of the gates"): the diagonal weights :math:`w_{ci}, w_{cf}, w_{co}`; without them those terms are 0.
      The output gate looks at the new cell :math:`c_t`, the other two at :math:`c_{t-1}`.
    - Layer normalisation (``layer_norm=True``; Ba et al. 2016):
      :math:`\mathrm{LN}(v) = \gamma \odot (v - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta`, with mean and
      variance over the H units of each gate block separately (``ln_gates_*``, 4H) and over the cell
      before its tanh (``ln_cell_*``, H); without it both LN are the identity.
    - Projection (``proj_size=P > 0``, as ``torch.nn.LSTM``): :math:`W_{hr}` (P, H) makes
      :math:`h_t` of size P; without it :math:`W_{hr} = I`.

    The output is :math:`y_t = h_t`; the state is ``LSTMState(h, c)``. With :math:`i = o = 1, f = 0`
    the cell reduces to a plain tanh RNN (seed 001).

    Parameters (``torch.nn`` names; gate blocks in the order i, f, g, o; U(-1/sqrt(H), 1/sqrt(H))):
    ``weight_ih (4H, I)``, ``weight_hh (4H, P or H)``, ``bias_ih (4H,)``, ``bias_hh (4H,)``,
    ``weight_hr (P, H)``, ``weight_ci, weight_cf, weight_co (H,)``; layer norm gains start at 1
    and its biases at 0. ``forget_bias=b`` (Jozefowicz et al. 2015 use 1.0) starts the forget gate's
    bias at ``b``: the forget block of ``bias_ih`` is set to ``b`` and that of ``bias_hh`` to 0 — or,
    with layer norm, which would subtract any constant added before it, the forget block of
    ``ln_gates_bias`` is set to ``b`` instead.
    """

    gates = 4
    supports_recurrent_mask = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        peephole: bool = False,
        layer_norm: bool = False,
        forget_bias: float | None = None,
        proj_size: int = 0,
        ln_eps: float = 1e-5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_sizes(input_size, hidden_size)  # before proj_size, which is checked against hidden_size
        if not 0 <= proj_size < hidden_size:
            raise ValueError(f"proj_size must be in [0, hidden_size={hidden_size}), got {proj_size}")
        if forget_bias is not None and not bias and not layer_norm:
            raise ValueError("forget_bias needs bias=True (or layer_norm=True, whose bias takes it)")
        super().__init__(input_size, hidden_size, bias, recurrent_size=proj_size or hidden_size,
                         device=device, dtype=dtype)
        kw = {"device": device, "dtype": dtype}
        H = hidden_size
        self.peephole, self.layer_norm, self.forget_bias = peephole, layer_norm, forget_bias
        self.proj_size, self.ln_eps = proj_size, ln_eps
        self.weight_hr = nn.Parameter(torch.empty(proj_size, H, **kw)) if proj_size else None
        self.weight_ci = nn.Parameter(torch.empty(H, **kw)) if peephole else None
        self.weight_cf = nn.Parameter(torch.empty(H, **kw)) if peephole else None
        self.weight_co = nn.Parameter(torch.empty(H, **kw)) if peephole else None
        self.ln_gates_weight = nn.Parameter(torch.empty(4 * H, **kw)) if layer_norm else None
        self.ln_gates_bias = nn.Parameter(torch.empty(4 * H, **kw)) if layer_norm else None
        self.ln_cell_weight = nn.Parameter(torch.empty(H, **kw)) if layer_norm else None
        self.ln_cell_bias = nn.Parameter(torch.empty(H, **kw)) if layer_norm else None
        self.reset_parameters()

    @property
    def output_size(self) -> int:
        return self.proj_size or self.hidden_size

    def options(self) -> dict[str, Any]:
        return {
            "bias": self.bias, "peephole": self.peephole, "layer_norm": self.layer_norm,
            "forget_bias": self.forget_bias, "proj_size": self.proj_size, "ln_eps": self.ln_eps,
        }

    def reset_parameters(self) -> None:
        super().reset_parameters()
        H = self.hidden_size
        with torch.no_grad():
            if self.layer_norm:
                self.ln_gates_weight.fill_(1.0)
                self.ln_gates_bias.zero_()
                self.ln_cell_weight.fill_(1.0)
                self.ln_cell_bias.zero_()
            if self.forget_bias is not None:
                if self.layer_norm:
                    self.ln_gates_bias[H : 2 * H] = self.forget_bias
                if self.bias:
                    self.bias_ih[H : 2 * H] = 0.0 if self.layer_norm else self.forget_bias
                    self.bias_hh[H : 2 * H] = 0.0

    def initial_state(
        self, batch_size: int, *, dtype: torch.dtype | None = None, device: torch.device | None = None
    ) -> LSTMState:
        kw = {"dtype": dtype or self.weight_ih.dtype, "device": device or self.weight_ih.device}
        h = torch.zeros(batch_size, self.output_size, **kw)  # (B, P or H)
        return LSTMState(h, torch.zeros(batch_size, self.hidden_size, **kw))

    def step(
        self, xp_t: Tensor, state: LSTMState, *, recurrent_mask: Tensor | None = None
    ) -> tuple[Tensor, LSTMState]:
        h, c = state
        m_h = h if recurrent_mask is None else recurrent_mask * h
        a = xp_t + F.linear(m_h, self.weight_hh, self.bias_hh)  # (B, 4H)
        a = self._ln_gates(a)
        a_i, a_f, a_g, a_o = a.chunk(4, 1)
        i = torch.sigmoid(a_i + _peep(self.weight_ci, c))
        f = torch.sigmoid(a_f + _peep(self.weight_cf, c))
        g = torch.tanh(a_g)
        c = f * c + i * g
        o = torch.sigmoid(a_o + _peep(self.weight_co, c))
        h = o * torch.tanh(self._ln_cell(c))
        if self.weight_hr is not None:
            h = F.linear(h, self.weight_hr)
        return h, LSTMState(h, c)

    def _ln_gates(self, a: Tensor) -> Tensor:
        """LN_gates: each gate block normalised over its H units, then gain and bias (identity without LN)."""
        if not self.layer_norm:
            return a
        H = self.hidden_size
        a_hat = F.layer_norm(a.view(-1, 4, H), (H,), eps=self.ln_eps).reshape(-1, 4 * H)  # (B, 4H)
        return a_hat * self.ln_gates_weight + self.ln_gates_bias

    def _ln_cell(self, c: Tensor) -> Tensor:
        """LN_c: the cell normalised over its H units before the tanh (identity without LN)."""
        if not self.layer_norm:
            return c
        return F.layer_norm(c, (self.hidden_size,), self.ln_cell_weight, self.ln_cell_bias, self.ln_eps)

    def scan(
        self,
        x: Tensor,
        state: LSTMState,
        *,
        keep: LSTMState | None = None,
        recurrent_mask: Tensor | None = None,
        transition: Transition | None = None,
    ) -> tuple[Tensor, LSTMState]:
        """All steps at once: PyTorch's fused LSTM operator for the plain equations, else one matmul
        ``x W_ih^T + b_ih + b_hh`` for every t followed by rnnkit's fused kernel.

        The plain LSTM (with or without bias or projection; no peepholes, layer norm, ``keep`` or
        ``recurrent_mask``) is exactly what ``torch.lstm`` computes, and there it is faster than the
        kernel (oneDNN's primitive runs a layer in one call, without the kernel's per-step operators;
        see :mod:`rnnkit.kernels.torch_lstm`), so it goes there, as the ``LSTM`` drop-in does, except in
        float32 inference at small batch, where the kernel's native loop is faster
        (:func:`rnnkit.kernels.lstm.plain_runs_native`). Every other case needs an option ``torch.lstm``
        lacks and runs the kernel; with a projection, which the kernel does not have, it runs the steps
        one by one.

        ``transition`` puts a deep-transition MLP between ``m h_{t-1}`` and the recurrent matmul, the
        recurrent mask now applying to the MLP's input (:mod:`rnnkit.kernels.transition`): the fused path
        of ``DeepTransition`` around this cell, which the kernel runs; it needs ``proj_size=0``.
        """
        if transition is not None and self.proj_size:
            raise ValueError(f"LSTMCell.scan: a transition needs proj_size=0, got proj_size={self.proj_size}")
        if transition is None and self._torch_lstm_computes(keep, recurrent_mask) and not self._native_faster(x, state):
            weights = [self.weight_ih, self.weight_hh]
            if self.bias:
                weights += [self.bias_ih, self.bias_hh]
            if self.proj_size:
                weights.append(self.weight_hr)
            ys, h, c = torch_lstm(x, state.h[None], state.c[None], weights, bias=self.bias)  # h, c: (1, B, ·)
            return ys, LSTMState(h[0], c[0])
        if self.proj_size:
            return scan_steps(self, x, state, keep=keep, recurrent_mask=recurrent_mask)
        keep_h, keep_c = (None, None) if keep is None else keep
        xp = input_projection(x, self.weight_ih, summed_bias(self.bias_ih, self.bias_hh))  # (T, B, 4H)
        ys, h, c = lstm_scan(
            xp, state.h, state.c, self.weight_hh,
            weight_ci=self.weight_ci, weight_cf=self.weight_cf, weight_co=self.weight_co,
            ln_gates_weight=self.ln_gates_weight, ln_gates_bias=self.ln_gates_bias,
            ln_cell_weight=self.ln_cell_weight, ln_cell_bias=self.ln_cell_bias, ln_eps=self.ln_eps,
            keep_h=keep_h, keep_c=keep_c, recurrent_mask=recurrent_mask, transition=transition,
        )
        return ys, LSTMState(h, c)

    def _native_faster(self, x: Tensor, state: LSTMState) -> bool:
        """Whether the plain equations run faster in the kernel's native loop than in ``torch.lstm``."""
        return not self.proj_size and plain_runs_native(x, state.h, state.c, *self.parameters())

    def _torch_lstm_computes(self, keep: LSTMState | None, recurrent_mask: Tensor | None) -> bool:
        """Whether this scan is the plain LSTM ``torch.lstm`` computes (no option only rnnkit has)."""
        return not self.peephole and not self.layer_norm and keep is None and recurrent_mask is None

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}, bias={self.bias}"
        for name in ("peephole", "layer_norm"):
            if getattr(self, name):
                s += f", {name}=True"
        if self.forget_bias is not None:
            s += f", forget_bias={self.forget_bias}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        return s


def _peep(w: Tensor | None, c: Tensor) -> Tensor | float:
    """A peephole term ``w ⊙ c`` (0 when the cell has no peepholes)."""
    return 0.0 if w is None else w * c
