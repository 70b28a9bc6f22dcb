"""Bilinear ("general") attention (Luong, Pham & Manning 2015, "Effective Approaches to Attention-based
Neural Machine Translation", the *general* score).

.. math::

    e_s = q^\\top W_a k_s

``W_a`` is ``(Hq, Hk)``, stored as ``linear_in.weight``; the query and key sizes may differ. ``W_a k_s``
depends on the keys only, so :meth:`project_keys` computes it once per source sequence and each decoder
step costs one batched dot product.
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnkit.attention.base import Attention


class GeneralAttention(Attention):
    """``e_s = q^T W_a k_s``. ``forward(query (B, Hq), keys (B, S, Hk), mask (B, S)) -> (context, weights)``."""

    def __init__(self, query_size: int, key_size: int | None = None) -> None:
        super().__init__()
        key_size = query_size if key_size is None else key_size
        if query_size <= 0 or key_size <= 0:
            raise ValueError(f"GeneralAttention: sizes must be positive, got query {query_size}, key {key_size}")
        self.query_size, self.key_size = query_size, key_size
        self.linear_in = nn.Linear(key_size, query_size, bias=False)  # W_a: k_s -> W_a k_s

    def project_keys(self, keys: Tensor) -> Tensor:
        return self.linear_in(keys)  # (B, S, Hq)

    def score(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        return query.bmm(projected_keys.transpose(1, 2))  # (B, T, Hq) @ (B, Hq, S) -> (B, T, S)
