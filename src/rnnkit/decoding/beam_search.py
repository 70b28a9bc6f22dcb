"""Batched beam search with a GNMT length penalty and n-best output.

All ``N`` sentences and their ``K`` beams run together as ``N * K`` rows (row ``n * K + k`` is beam ``k``
of sentence ``n``); after each step the surviving beams' state rows are gathered with
``model.reorder_state``. A hypothesis' log-probability is ``log p(y | x) = sum_t log p(y_t | y_<t, x)``;
finished hypotheses are ranked by the length-normalised score of Wu et al. 2016 (GNMT):

.. math::

    \\mathrm{score}(y) = \\frac{\\log p(y \\mid x)}{lp(y)}, \\qquad lp(y) = \\left(\\frac{5 + |y|}{6}\\right)^{\\alpha}

with ``|y|`` the number of generated tokens, EOS included. ``alpha = 0`` ranks by log-probability.

A wider beam is not guaranteed to find a hypothesis at least as good as greedy decoding's: when the
greedy prefix falls out of the top ``K`` at some step it is lost, and what the beams keep may end worse.
With ``keep_greedy=True`` each sentence's greedy hypothesis (decoded first, ``N`` more rows, ``1/K``
of the beams' work per step) joins the finished hypotheses, so the best one never scores below it.

Each step, for each sentence: extend every live beam by every token (``K x V`` candidates), keep the
best ``2K``; a candidate ending in EOS among the top ``K`` joins that sentence's finished list; the best
``K`` candidates not ending in EOS become the new beams. A sentence is done once it has ``n_best``
finished hypotheses and no live beam can beat the ``n_best``-th of them: log-probabilities only fall
as a hypothesis grows, so the bound is ``logp_best_live / lp(max_len)`` (``/ lp(current length)`` is
not an upper bound when ``alpha > 0``, because the penalty grows). After ``max_len`` steps the live
beams count as finished hypotheses without EOS.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import Tensor

from rnnkit.decoding.contract import check_step_output, start_tokens
from rnnkit.decoding.greedy import greedy


class Hypothesis(NamedTuple):
    tokens: list[int]  # without BOS, up to and without EOS
    score: float  # log_prob / lp(len)
    log_prob: float  # sum of the tokens' log-probabilities, EOS included when produced


class BeamSearchResult(NamedTuple):
    """``tokens``: the best hypothesis per sentence; ``scores (N,)``: its length-normalised score;
    ``log_probs (N,)``: its log-probability; ``n_best``: per sentence, the best ``n_best`` hypotheses,
    best first."""

    tokens: list[list[int]]
    scores: Tensor
    log_probs: Tensor
    n_best: list[list[Hypothesis]]


def length_penalty(length: int | float, alpha: float) -> float:
    """GNMT's ``((5 + length) / 6) ** alpha``."""
    return ((5.0 + length) / 6.0) ** alpha


@torch.no_grad()
def beam_search(
    model: Any, state: Any, bos_id: int | Tensor, eos_id: int, max_len: int, *, beam_size: int = 5,
    n_best: int = 1, alpha: float = 0.0, batch_size: int | None = None, keep_greedy: bool = False,
) -> BeamSearchResult:
    """Beam search for ``N`` sentences at once from ``state`` (see :mod:`rnnkit.decoding.contract`);
    ``keep_greedy`` adds each sentence's greedy hypothesis to its candidates (see above)."""
    if beam_size < 1:
        raise ValueError(f"beam_size must be at least 1, got {beam_size}")
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best must be between 1 and beam_size={beam_size}, got {n_best}")
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    if alpha < 0:
        raise ValueError(f"alpha must be non-negative, got {alpha}")
    first = start_tokens(model, state, bos_id, batch_size)  # (N,)
    n, k, device = first.size(0), beam_size, first.device
    floor = greedy(model, state, first, eos_id, max_len) if keep_greedy else None
    sentence_of_row = torch.arange(n, device=device).repeat_interleave(k)  # (N*K,)
    state = model.reorder_state(state, sentence_of_row)
    tokens = first[sentence_of_row]  # (N*K,)
    # Only beam 0 is live at the start, so the K copies of the same prefix are not extended K times.
    beam_log_probs = torch.full((n, k), float("-inf"), device=device)  # (N, K)
    beam_log_probs[:, 0] = 0.0
    history = torch.empty(n, k, 0, dtype=torch.long, device=device)  # (N, K, t)
    finished: list[list[Hypothesis]] = [[] for _ in range(n)]
    done = [False] * n
    bound_penalty = length_penalty(max_len, alpha)

    for t in range(1, max_len + 1):
        log_probs, state = model.step(tokens, state)  # (N*K, V)
        check_step_output(log_probs, n * k)
        vocab = log_probs.size(1)
        candidates = beam_log_probs.unsqueeze(2) + log_probs.float().view(n, k, vocab)  # (N, K, V)
        top_scores, top_index = candidates.view(n, k * vocab).topk(min(2 * k, k * vocab), dim=1)  # (N, 2K)
        top_beam = torch.div(top_index, vocab, rounding_mode="floor")  # (N, 2K)
        top_token = top_index % vocab  # (N, 2K)
        is_eos = top_token == eos_id  # (N, 2K)

        for sentence, rank in (is_eos[:, :k] & torch.isfinite(top_scores[:, :k])).nonzero().tolist():
            if done[sentence]:
                continue
            log_prob = float(top_scores[sentence, rank])
            prefix = history[sentence, int(top_beam[sentence, rank])].tolist()
            finished[sentence].append(Hypothesis(prefix, log_prob / length_penalty(t, alpha), log_prob))

        # The best K candidates not ending in EOS: a stable sort puts them first, in score order.
        keep = torch.sort(is_eos.int(), dim=1, stable=True).indices[:, :k]  # (N, K)
        beam_log_probs = top_scores.gather(1, keep).masked_fill(is_eos.gather(1, keep), float("-inf"))  # (N, K)
        parent = top_beam.gather(1, keep)  # (N, K)
        tokens_kept = top_token.gather(1, keep)  # (N, K)
        history = torch.cat([history.gather(1, parent.unsqueeze(2).expand(-1, -1, history.size(2))),
                             tokens_kept.unsqueeze(2)], dim=2)  # (N, K, t)
        rows = (torch.arange(n, device=device).unsqueeze(1) * k + parent).view(-1)  # (N*K,)
        state = model.reorder_state(state, rows)
        tokens = tokens_kept.view(-1)  # (N*K,)

        best_live = beam_log_probs[:, 0].tolist()  # candidates are sorted, so beam 0 is the best
        for sentence in range(n):
            if done[sentence] or len(finished[sentence]) < n_best:
                continue
            threshold = sorted((h.score for h in finished[sentence]), reverse=True)[n_best - 1]
            done[sentence] = best_live[sentence] / bound_penalty <= threshold
        if all(done):
            break

    for sentence in range(n):
        if done[sentence]:
            continue
        for beam in range(k):
            log_prob = float(beam_log_probs[sentence, beam])
            if log_prob > float("-inf"):
                prefix = history[sentence, beam].tolist()
                finished[sentence].append(Hypothesis(prefix, log_prob / length_penalty(len(prefix), alpha), log_prob))

    if floor is not None:
        for sentence, (tokens, log_prob) in enumerate(zip(floor.tokens, floor.scores.tolist())):
            if all(h.tokens != tokens for h in finished[sentence]):
                length = len(tokens) + int(len(tokens) < max_len)  # EOS counts when greedy produced it
                finished[sentence].append(Hypothesis(tokens, log_prob / length_penalty(length, alpha), log_prob))

    ranked = [sorted(hyps, key=lambda h: h.score, reverse=True)[:n_best] for hyps in finished]
    return BeamSearchResult(
        tokens=[hyps[0].tokens for hyps in ranked],
        scores=torch.tensor([hyps[0].score for hyps in ranked]),
        log_probs=torch.tensor([hyps[0].log_prob for hyps in ranked]),
        n_best=ranked,
    )
