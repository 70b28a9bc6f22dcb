"""Dot-product attention (Luong, Pham & Manning 2015, "Effective Approaches to Attention-based Neural
Machine Translation", the *dot* score).

.. math::

    e_s = q^\\top k_s \\quad (\\text{optionally } / \\sqrt{H})

No parameters; the query and the keys must have the same size ``H``. The scaling by ``1/sqrt(H)``
(Vaswani et al. 2017) keeps the scores' variance near 1 for large ``H``; Luong's dot score is unscaled.
"""

from __future__ import annotations

import math

from torch import Tensor

from rnnkit.attention.base import Attention


class DotAttention(Attention):
    """``e_s = q . k_s``. ``forward(query (B, H), keys (B, S, H), mask (B, S)) -> (context (B, H), weights (B, S))``."""

    def __init__(self, size: int, scaled: bool = False) -> None:
        super().__init__()
        if size <= 0:
            raise ValueError(f"DotAttention: size must be positive, got {size}")
        self.query_size = self.key_size = size
        self.scaled = scaled

    def score(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        e = query.bmm(projected_keys.transpose(1, 2))  # (B, T, H) @ (B, H, S) -> (B, T, S)
        return e / math.sqrt(self.query_size) if self.scaled else e

    def extra_repr(self) -> str:
        return f"size={self.query_size}, scaled={self.scaled}"
