"""The attention contract shared by every score function.

Given a decoder query ``q (B, Hq)`` and encoder keys ``k_1..k_S (B, S, Hk)``, a score function gives one
score ``e_s = score(q, k_s)`` per source position; the weights are their softmax over the valid positions
and the context is the weighted sum of the values (the keys themselves unless told otherwise):

.. math::

    a_s = \\frac{\\exp(e_s)}{\\sum_{s' \\,\\mathrm{valid}} \\exp(e_{s'})}, \\qquad
    c = \\sum_s a_s v_s

Padding positions (``mask == False``) get weight exactly 0.

Shapes: ``B`` batch, ``S`` source length, ``Hq`` query size, ``Hk`` key size, ``Hv`` value size.
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnkit.attention.masking import masked_softmax


class Attention(nn.Module):
    """Base class: subclasses define :meth:`score` and, when the keys pass through a learned projection,
    :meth:`project_keys` (computed once per source sequence and reused at every decoder step).

    ``forward(query (B, Hq), keys (B, S, Hk), mask (B, S) bool = None, values (B, S, Hv) = None,
    projected_keys = None) -> (context (B, Hv), weights (B, S))``
    """

    query_size: int
    key_size: int

    def project_keys(self, keys: Tensor) -> Tensor:
        """The part of the score that depends on the keys only, ``(B, S, ·)``; identity by default."""
        return keys

    def score(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        """Scores ``(B, S)`` of ``query (B, Hq)`` against ``projected_keys`` from :meth:`project_keys`."""
        raise NotImplementedError

    def forward(
        self,
        query: Tensor,
        keys: Tensor,
        mask: Tensor | None = None,
        values: Tensor | None = None,
        projected_keys: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        self._check_shapes(query, keys, values)
        if projected_keys is None:
            projected_keys = self.project_keys(keys)
        weights = masked_softmax(self.score(query, projected_keys), mask)  # (B, S)
        values = keys if values is None else values
        context = weights.unsqueeze(1).bmm(values).squeeze(1)  # (B, 1, S) @ (B, S, Hv) -> (B, Hv)
        return context, weights

    def _check_shapes(self, query: Tensor, keys: Tensor, values: Tensor | None) -> None:
        name = type(self).__name__
        if query.dim() != 2 or query.size(1) != self.query_size:
            raise ValueError(f"{name}: query must have shape (B, {self.query_size}), got {tuple(query.shape)}")
        if keys.dim() != 3 or keys.size(2) != self.key_size or keys.size(0) != query.size(0):
            raise ValueError(
                f"{name}: keys must have shape ({query.size(0)}, S, {self.key_size}), got {tuple(keys.shape)}"
            )
        if values is not None and (values.dim() != 3 or values.shape[:2] != keys.shape[:2]):
            raise ValueError(
                f"{name}: values must have shape {tuple(keys.shape[:2])} + (Hv,), got {tuple(values.shape)}"
            )
