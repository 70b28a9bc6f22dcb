"""Ancestral sampling: draw each token from the model's distribution, reshaped by temperature, top-k and
top-p (nucleus, Holtzman et al. 2020) filtering, and feed it back as the next input.

.. math::

    p_\\tau(v) \\propto \\exp(\\log p(v \\mid y_{<t}) / \\tau)

Top-k keeps the ``k`` most probable tokens; top-p keeps the smallest set of most probable tokens whose
probability sums to at least ``p`` (always at least one). Both renormalise over what they keep; they
apply after the temperature. ``scores`` report the model's own log-probabilities of the drawn tokens
(before temperature and filtering), so they compare with greedy's and beam search's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from rnnkit.decoding.contract import Decoded
from rnnkit.decoding.step_loop import decode_left_to_right


def filter_logits(
    log_probs: Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> Tensor:
    """Scaled and filtered logits ``(N, V)``: removed tokens are ``-inf``."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    logits = log_probs / temperature  # (N, V)
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        kth = logits.topk(min(top_k, logits.size(-1)), dim=-1).values[:, -1:]  # (N, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        sorted_logits, order = logits.sort(dim=-1, descending=True)  # (N, V)
        probs = sorted_logits.softmax(-1)  # (N, V)
        # Drop a token when the tokens before it already reach top_p; the first token always stays.
        drop_sorted = (probs.cumsum(-1) - probs) >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample(
    model: Any, state: Any, bos_id: int | Tensor, eos_id: int, max_len: int, *, temperature: float = 1.0,
    top_k: int | None = None, top_p: float | None = None, generator: torch.Generator | None = None,
    batch_size: int | None = None,
) -> Decoded:
    """Sample ``N`` rows from ``state`` (see :mod:`rnnkit.decoding.contract`); ``generator`` makes it
    reproducible. Returns :class:`Decoded` like :func:`rnnkit.decoding.greedy`."""
    filter_logits(torch.zeros(1, 1), temperature, top_k, top_p)  # report bad options before any step

    def choose(log_probs: Tensor) -> Tensor:
        probs = filter_logits(log_probs.float(), temperature, top_k, top_p).softmax(-1)  # (N, V)
        return torch.multinomial(probs, 1, generator=generator).squeeze(1)  # (N,)

    return decode_left_to_right(model, state, bos_id, eos_id, max_len, choose, batch_size)
