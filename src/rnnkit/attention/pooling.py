"""Attention pooling with a learned context vector (Yang et al. 2016, "Hierarchical Attention Networks
for Document Classification", eq. 5-7 and 8-10): a query-less attention that turns a sequence into one
vector, used for word and sentence attention in a HAN and for pooling in any many-to-one model.

.. math::

    u_t = \\tanh(W h_t + b), \\qquad
    a_t = \\frac{\\exp(u_t^\\top u_w)}{\\sum_{t' \\,\\mathrm{valid}} \\exp(u_{t'}^\\top u_w)}, \\qquad
    s = \\sum_t a_t h_t

``W`` is ``(A, H)`` (``proj.weight``), ``b`` is ``(A,)``, the context vector ``u_w`` is ``(A,)``
(``context_vector``), learned with the rest of the model.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.attention.masking import masked_softmax


class AttentionPooling(nn.Module):
    """``forward(inputs (B, T, H), mask (B, T) bool = None) -> (pooled (B, H), weights (B, T))``."""

    def __init__(self, input_size: int, attention_size: int | None = None) -> None:
        super().__init__()
        attention_size = input_size if attention_size is None else attention_size
        if input_size <= 0 or attention_size <= 0:
            raise ValueError(
                f"AttentionPooling: sizes must be positive, got input {input_size}, attention {attention_size}"
            )
        self.input_size, self.attention_size = input_size, attention_size
        self.proj = nn.Linear(input_size, attention_size)  # W, b
        # Yang et al. initialise u_w randomly; a zero vector would give uniform weights and a zero gradient
        # for W through the scores at the start.
        self.context_vector = nn.Parameter(torch.empty(attention_size).uniform_(-0.1, 0.1))  # u_w

    def forward(self, inputs: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if inputs.dim() != 3 or inputs.size(2) != self.input_size:
            raise ValueError(
                f"AttentionPooling: inputs must have shape (B, T, {self.input_size}), got {tuple(inputs.shape)}"
            )
        u = torch.tanh(self.proj(inputs))  # (B, T, A)
        scores = u.matmul(self.context_vector)  # (B, T, A) @ (A,) -> (B, T)
        weights = masked_softmax(scores, mask)  # (B, T)
        pooled = weights.unsqueeze(1).bmm(inputs).squeeze(1)  # (B, 1, T) @ (B, T, H) -> (B, H)
        return pooled, weights

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, attention_size={self.attention_size}"
