"""The attention contract shared by every score function.

Given a decoder query ``q (B, Hq)`` and encoder keys ``k_1..k_S (B, S, Hk)``, a score function gives one
score ``e_s = score(q, k_s)`` per source position; the weights are their softmax over the valid positions
and the context is the weighted sum of the values (the keys themselves unless told otherwise):

.. math::

    a_s = \\frac{\\exp(e_s)}{\\sum_{s' \\,\\mathrm{valid}} \\exp(e_{s'})}, \\qquad
    c = \\sum_s a_s v_s

Padding positions (``mask == False``) get weight exactly 0.

Shapes: ``B`` batch, ``S`` source length, ``Hq`` query size, ``Hk`` key size, ``Hv`` value size. A query
may also be ``(B, T, Hq)``: ``T`` queries against the same keys at once (all decoder steps of a
teacher-forced pass), giving ``context (B, T, Hv)`` and ``weights (B, T, S)``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.attention.masking import masked_softmax


class Attention(nn.Module):
    """Base class: subclasses define :meth:`score` and, when the keys pass through a learned projection,
    :meth:`project_keys` (computed once per source sequence and reused at every decoder step).

    ``forward(query (B, Hq) or (B, T, Hq), keys (B, S, Hk), mask (B, S) bool = None,
    values (B, S, Hv) = None, projected_keys = None) -> (context (B, Hv), weights (B, S))``, or
    ``(B, T, Hv)`` and ``(B, T, S)`` for ``T`` queries.
    """

    query_size: int
    key_size: int

    def project_keys(self, keys: Tensor) -> Tensor:
        """The part of the score that depends on the keys only, ``(B, S, ·)``; identity by default."""
        return keys

    def score(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        """Scores ``(B, T, S)`` of queries ``(B, T, Hq)`` against ``projected_keys`` from :meth:`project_keys`."""
        raise NotImplementedError

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        mask: Tensor | None = None,
        values: Tensor | None = None,
        projected_keys: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        self._check_shapes(query, keys, mask, values)
        single = query.dim() == 2
        queries = query.unsqueeze(1) if single else query  # (B, T, Hq)
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        scores = self.score(queries, projected_keys)  # (B, T, S)
        weights = masked_softmax(scores, None if mask is None else mask.unsqueeze(1).expand_as(scores))  # (B, T, S)
        values = keys if values is None else values
        context = weights.bmm(values)  # (B, T, S) @ (B, S, Hv) -> (B, T, Hv)
        return (context.squeeze(1), weights.squeeze(1)) if single else (context, weights)

    def _check_shapes(self, query: Tensor, keys: Tensor, mask: Tensor | None, values: Tensor | None) -> None:
        name = type(self).__name__
        if query.dim() not in (2, 3) or query.size(-1) != self.query_size:
            raise ValueError(
                f"{name}: query must have shape (B, {self.query_size}) or (B, T, {self.query_size}), "
                f"got {tuple(query.shape)}"
            )
        if keys.dim() != 3 or keys.size(2) != self.key_size or keys.size(0) != query.size(0):
            raise ValueError(
                f"{name}: keys must have shape ({query.size(0)}, S, {self.key_size}), got {tuple(keys.shape)}"
            )
        if mask is not None and (mask.dtype != torch.bool or mask.shape != keys.shape[:2]):
            raise ValueError(
                f"{name}: mask must be a bool tensor {tuple(keys.shape[:2])} (True = valid), "
                f"got {mask.dtype} {tuple(mask.shape)}"
            )
        if values is not None and (values.dim() != 3 or values.shape[:2] != keys.shape[:2]):
            raise ValueError(
                f"{name}: values must have shape {tuple(keys.shape[:2])} + (Hv,), got {tuple(values.shape)}"
            )
