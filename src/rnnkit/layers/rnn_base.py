"""The shared base of the ``torch.nn`` drop-ins ``RNN``, ``LSTM`` and ``GRU``.

Everything the three share lives here once: the parameters under ``torch.nn``'s names
(``weight_ih_l0``, ``weight_hh_l0_reverse``, ``weight_hr_l0``, ...), the checks of the input and the
initial state, batch-first and unbatched inputs, ``PackedSequence`` in and out, and the loop over layers
and directions. A subclass supplies the fused kernel of one layer and direction (:meth:`_scan`).
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from rnnkit.cells.base import init_uniform
from rnnkit.cells.projection import input_projection
from rnnkit.cells.state import LSTMState, map_state
from rnnkit.layers.masks import hold_after_end, valid_mask
from rnnkit.layers.packing import repack, unpack

HiddenState = Tensor | LSTMState


class RNNBase(nn.Module):
    """Parameters, argument checks and the layer/direction loop of the ``torch.nn``-compatible layers.

    ``gates`` is the number of gate blocks G in ``weight_ih (G*H, ·)``: 1 (RNN), 3 (GRU), 4 (LSTM).
    """

    gates: int = 1
    mode: str = "RNN"

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
        super().__init__()
        if not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"hidden_size must be a positive int, got {hidden_size!r}")
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be a positive int, got {num_layers!r}")
        if isinstance(dropout, bool) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1], got {dropout!r}")
        if dropout > 0 and num_layers == 1:
            # torch.nn's warning, word for word: code that filters it by message keeps working
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=3,  # past the drop-in's own __init__ to its caller
            )
        if proj_size < 0 or (proj_size and proj_size >= hidden_size):
            raise ValueError(f"proj_size must be in [0, hidden_size={hidden_size}), got {proj_size}")
        if proj_size and self.gates != 4:
            raise ValueError("proj_size is only supported by LSTM")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        D = 2 if bidirectional else 1
        H, R, G = hidden_size, proj_size or hidden_size, self.gates * hidden_size
        kw = {"device": device, "dtype": dtype}
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else D * R
            for suffix in ("", "_reverse")[:D]:
                shapes = {"weight_ih": (G, layer_input), "weight_hh": (G, R)}
                if bias:
                    shapes.update(bias_ih=(G,), bias_hh=(G,))
                if proj_size:
                    shapes["weight_hr"] = (proj_size, H)
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    self.register_parameter(name, nn.Parameter(torch.empty(shape, **kw)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _flat_weights(self) -> list[Tensor]:
        """The parameters in ``torch.nn``'s order: per layer and direction w_ih, w_hh, b_ih, b_hh, w_hr."""
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Tensor]]:
        """The parameters grouped per layer and direction, as ``torch.nn.RNNBase.all_weights``."""
        per = len(self._flat_weights_names) // (self.num_layers * self.num_directions)
        flat = self._flat_weights
        return [flat[i : i + per] for i in range(0, len(flat), per)]

    def reset_parameters(self) -> None:
        init_uniform(self.parameters(), self.hidden_size)

    def flatten_parameters(self) -> None:
        """Present for ``torch.nn`` compatibility; nothing to compact on CPU."""

    def _param(self, kind: str, layer: int, direction: int) -> Tensor | None:
        return getattr(self, f"{kind}_l{layer}{'_reverse' if direction else ''}", None)

    def forward(self, input: Tensor | PackedSequence, hx: HiddenState | None = None):
        """``(output, h_n)``, or for LSTM ``(output, (h_n, c_n))``, exactly as ``torch.nn``."""
        self._check_dtype(input.data if isinstance(input, PackedSequence) else input)
        if isinstance(input, PackedSequence):
            batch = int(input.batch_sizes[0])
            hx = self._check_hidden(hx, batch, input.data)
            return self._forward_packed(input, hx)
        if input.dim() not in (2, 3):
            raise ValueError(f"{self.mode}: input must be 2-D (unbatched) or 3-D, got {input.dim()}-D")
        unbatched = input.dim() == 2
        self._check_hidden_dims(hx, input.dim())
        if unbatched:
            input = input.unsqueeze(1)
            if hx is not None:
                hx = map_state(lambda t: t.unsqueeze(1), hx)
        x = input.transpose(0, 1) if self.batch_first and not unbatched else input  # (T, B, I)
        if x.shape[-1] != self.input_size:
            raise ValueError(f"{self.mode}: input.size(-1) must be {self.input_size}, got {x.shape[-1]}")
        if x.shape[0] == 0:
            raise ValueError(f"{self.mode}: expected sequence length to be larger than 0, got input of shape "
                             f"{tuple(input.shape)}")
        hx = self._check_hidden(hx, x.shape[1], x)
        output, h_n = self._forward_tensor(x, hx)
        if unbatched:
            return output.squeeze(1), map_state(lambda t: t.squeeze(1), h_n)
        return (output.transpose(0, 1) if self.batch_first else output), h_n

    def _check_dtype(self, input: Tensor) -> None:
        """The input in the parameters' dtype (autocast, which casts both, excepted), as ``torch.nn`` asks."""
        weight = self.weight_ih_l0
        if input.dtype != weight.dtype and not torch.is_autocast_enabled(input.device.type):
            raise ValueError(
                f"{self.mode}: input dtype ({input.dtype}) does not match weight dtype ({weight.dtype}). "
                f"Convert input: input.to({weight.dtype}), or convert model: model.to({input.dtype})"
            )

    def _check_hidden_dims(self, hx: HiddenState | None, dims: int) -> None:
        """``hx`` batched (3-D) for a 3-D input and unbatched (2-D) for a 2-D one, as ``torch.nn`` asks."""
        if hx is None:
            return
        parts = [hx] if isinstance(hx, Tensor) else list(hx)
        if any(not isinstance(part, Tensor) or part.dim() != dims for part in parts):
            got = ", ".join(f"{part.dim()}-D" if isinstance(part, Tensor) else type(part).__name__ for part in parts)
            kind = "batched 3-D" if dims == 3 else "unbatched 2-D"
            raise ValueError(f"{self.mode}: for {kind} input, hx should also be {dims}-D, got {got}")

    def _check_hidden(self, hx: HiddenState | None, batch: int, like: Tensor) -> HiddenState:
        """``hx`` checked against (L * D, B, H_out) (and (L * D, B, H) for c), or zeros when not given."""
        n, R = self.num_layers * self.num_directions, self.proj_size or self.hidden_size
        shapes = [(n, batch, R)] + ([(n, batch, self.hidden_size)] if self.gates == 4 else [])
        if hx is None:
            parts = [like.new_zeros(shape) for shape in shapes]
        else:
            parts = [hx] if isinstance(hx, Tensor) else list(hx)
            if len(parts) != len(shapes):
                raise ValueError(f"{self.mode}: hx must be {'(h_0, c_0)' if self.gates == 4 else 'a Tensor'}")
            for name, part, shape in zip(("h_0", "c_0"), parts, shapes):
                if tuple(part.shape) != shape:
                    raise ValueError(f"{self.mode}: expected {name} of shape {shape}, got {tuple(part.shape)}")
        return LSTMState(*parts) if self.gates == 4 else parts[0]

    def _forward_packed(self, packed: PackedSequence, hx: HiddenState) -> tuple[PackedSequence, HiddenState]:
        """A packed batch run padded, with the padding held by keep masks, and packed again."""
        x, lengths = unpack(packed)  # (T, B, I), original batch order like hx
        output, h_n = self._forward_tensor(x, hx, lengths)
        return repack(output, lengths, packed), h_n

    def _forward_tensor(
        self, x: Tensor, hx: HiddenState, lengths: Tensor | None = None
    ) -> tuple[Tensor, HiddenState]:
        """All layers and directions over ``x (T, B, I)``; sequence b ends after ``lengths[b]`` steps."""
        T, D = x.shape[0], self.num_directions
        valid = None if lengths is None else valid_mask(lengths, T, dtype=x.dtype, device=x.device)  # (T, B)
        keep = hold_after_end(None, valid)  # (T, B, 1) or None
        keeps = (keep, None if keep is None else keep.flip(0))
        finals, u = [], x
        for layer in range(self.num_layers):
            # the input projections of both directions and all steps in one matmul
            weights = [self._param("weight_ih", layer, d) for d in range(D)]
            biases = [self._input_bias(layer, d) for d in range(D)] if self.bias else None
            weight = weights[0] if D == 1 else torch.cat(weights)  # (D*G*H, in)
            bias = None if biases is None else biases[0] if D == 1 else torch.cat(biases)
            projected = input_projection(u, weight, bias)  # (T, B, D*G*H)
            # one direction: no chunk, whose backward would copy the whole gradient into a new buffer
            xp = (projected,) if D == 1 else projected.chunk(D, -1)  # D x (T, B, G*H)
            outs = []
            for d in range(D):
                h0 = map_state(lambda t: t[layer * D + d], hx)
                ys, h_T = self._scan(xp[d] if d == 0 else xp[d].flip(0), h0, layer, d, keeps[d])
                outs.append(ys if d == 0 else ys.flip(0))
                finals.append(h_T)
            u = outs[0] if D == 1 else torch.cat(outs, -1)  # (T, B, D * H_out)
            if valid is not None:
                u = u * valid[..., None]
            if self.dropout and self.training and layer < self.num_layers - 1:
                u = F.dropout(u, self.dropout, training=True)
        return u, map_state(lambda *parts: torch.stack(parts), *finals)

    def _input_bias(self, layer: int, direction: int) -> Tensor:
        """The bias joined to the input projection (``b_ih + b_hh`` unless a subclass keeps a part apart)."""
        return self._param("bias_ih", layer, direction) + self._param("bias_hh", layer, direction)

    def _scan(
        self, xp: Tensor, h0: HiddenState, layer: int, direction: int, keep: Tensor | None
    ) -> tuple[Tensor, HiddenState]:
        """One layer and direction over its input projections ``xp (T, B, G*H)``; the fused kernel."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s


