"""Additive attention (Bahdanau, Cho & Bengio 2015, "Neural Machine Translation by Jointly Learning to
Align and Translate"; Luong 2015 calls it *concat*).

.. math::

    e_s = v_a^\\top \\tanh(W_a q + U_a k_s + b_a)

``W_a`` is ``(A, Hq)``, ``U_a`` is ``(A, Hk)``, ``v_a`` is ``(A,)``, with ``A`` the attention size. One
bias suffices (it sits with ``U_a``). ``U_a k_s + b_a`` depends on the keys only, so :meth:`project_keys`
computes it once per source sequence.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.attention.base import Attention


class AdditiveAttention(Attention):
    """``e_s = v^T tanh(W q + U k_s + b)``.

    ``forward(query (B, Hq), keys (B, S, Hk), mask (B, S)) -> (context (B, Hk), weights (B, S))``
    """

    def __init__(self, query_size: int, key_size: int | None = None, attention_size: int | None = None) -> None:
        super().__init__()
        key_size = query_size if key_size is None else key_size
        attention_size = query_size if attention_size is None else attention_size
        if min(query_size, key_size, attention_size) <= 0:
            raise ValueError(
                f"AdditiveAttention: sizes must be positive, got query {query_size}, key {key_size}, "
                f"attention {attention_size}"
            )
        self.query_size, self.key_size, self.attention_size = query_size, key_size, attention_size
        self.W = nn.Linear(query_size, attention_size, bias=False)  # W_a
        self.U = nn.Linear(key_size, attention_size, bias=True)  # U_a, b_a
        self.v = nn.Linear(attention_size, 1, bias=False)  # v_a

    def project_keys(self, keys: Tensor) -> Tensor:
        return self.U(keys)  # (B, S, A)

    def score(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        # (B, T, 1, A) + (B, 1, S, A) -> (B, T, S, A)
        hidden = torch.tanh(self.W(query).unsqueeze(2) + projected_keys.unsqueeze(1))
        return self.v(hidden).squeeze(3)  # (B, T, S)
