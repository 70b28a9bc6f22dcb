"""Pooling a padded sequence of recurrent outputs into one vector per example (many-to-one).

With ``h_1..h_T`` the outputs of an example with ``T`` valid steps (padding ignored):

.. math::

    \\text{last:}\\; [\\overrightarrow{h}_T; \\overleftarrow{h}_1] \\qquad
    \\text{mean:}\\; \\frac{1}{T}\\sum_{t=1}^{T} h_t \\qquad
    \\text{max:}\\; \\max_{t \\le T} h_t \\;(\\text{per feature}) \\qquad
    \\text{attention:}\\; \\sum_{t=1}^{T} a_t h_t

``last`` is the recurrent layer's final state: the forward direction's state after the last valid step,
and for a bidirectional layer the backward direction's state after it has read back to step 1.
``attention`` is :class:`rnnkit.attention.AttentionPooling` (Yang et al. 2016), whose weights ``a_t``
sum to one over the valid steps and are zero on padding.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from rnnkit.attention import AttentionPooling, lengths_to_mask

PoolingType = Literal["last", "mean", "max", "attention"]
POOLING_TYPES: tuple[str, ...] = ("last", "mean", "max", "attention")


class SequencePooling(nn.Module):
    """``forward(outputs (B, T, D*H), lengths (B,)) -> (pooled (B, D*H), weights (B, T) or None)``.

    ``num_directions`` (``D``) tells ``last`` where the backward half of each output starts; the
    weights are returned for ``attention`` only.
    """

    def __init__(
        self, mode: PoolingType, input_size: int, num_directions: int = 1, attention_size: int | None = None
    ) -> None:
        super().__init__()
        if mode not in POOLING_TYPES:
            raise ValueError(f"SequencePooling: mode must be one of {POOLING_TYPES}, got {mode!r}")
        if num_directions not in (1, 2) or input_size % num_directions:
            raise ValueError(
                f"SequencePooling: input_size {input_size} must split into num_directions {num_directions} halves"
            )
        self.mode, self.input_size, self.num_directions = mode, input_size, num_directions
        self.attention = AttentionPooling(input_size, attention_size) if mode == "attention" else None

    def forward(self, outputs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        mask = lengths_to_mask(lengths, outputs.size(1))  # (B, T)
        if self.mode == "attention":
            return self.attention(outputs, mask)
        if self.mode == "mean":
            summed = outputs.masked_fill(~mask.unsqueeze(2), 0.0).sum(1)  # (B, D*H)
            return summed / lengths.unsqueeze(1).to(outputs.dtype), None
        if self.mode == "max":
            return outputs.masked_fill(~mask.unsqueeze(2), float("-inf")).amax(1), None
        return self._last(outputs, lengths), None

    def _last(self, outputs: Tensor, lengths: Tensor) -> Tensor:
        rows = torch.arange(outputs.size(0), device=outputs.device)
        last = outputs[rows, lengths - 1]  # (B, D*H): the step after which the forward direction stops
        if self.num_directions == 1:
            return last
        half = self.input_size // 2
        # the backward direction reads from the last valid step down to step 1: its final state is at t = 0
        return torch.cat([last[:, :half], outputs[:, 0, half:]], dim=1)  # (B, 2H)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, input_size={self.input_size}, num_directions={self.num_directions}"
