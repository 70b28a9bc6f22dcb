"""Metrics: token accuracy, perplexity, and error rates by edit distance.

- ``edit_distance(a, b)``: Levenshtein distance between two token sequences (insertions, deletions and
  substitutions each cost 1).
- ``error_rate(hyps, refs)``: total edit distance over total reference length. Over characters it is the
  character error rate (CER), over phonemes the phoneme error rate (PER), over words the word error rate
  of speech recognition (WER); ``character_error_rate`` and ``word_error_rate`` split strings for you.
- ``sequence_error_rate(hyps, refs)``: the fraction of sequences not exactly right. In grapheme-to-phoneme
  work this is what "word error rate" means (a word is wrong if any of its phonemes is).

Both rates take ``multi_reference=True`` to give several acceptable references per example (a word with
two pronunciations): a sequence is right if it equals any reference, and its edit distance is the one to
the closest reference (whose length then counts in the denominator).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

from torch import Tensor

from rnnkit.losses import target_mask

Tokens = Sequence[Hashable]


def accuracy(logits: Tensor, targets: Tensor, mask: Tensor | None = None, *, pad_id: int | None = None) -> float:
    """Fraction of valid positions whose argmax prediction equals the target.

    ``logits`` is ``targets.shape + (V,)`` (e.g. ``(B, T, V)`` with ``targets (B, T)``, or ``(B, C)`` with
    ``(B,)``); or already predicted ids of the targets' shape.
    """
    predictions = logits.argmax(-1) if logits.dim() == targets.dim() + 1 else logits
    if predictions.shape != targets.shape:
        raise ValueError(f"predictions {tuple(predictions.shape)} do not match targets {tuple(targets.shape)}")
    valid = target_mask(targets, mask, pad_id)
    correct = (predictions == targets) & valid
    return float(correct.sum()) / max(int(valid.sum()), 1)


def perplexity(mean_nll: float | Tensor) -> float:
    """``exp`` of the mean negative log-likelihood per token (``sequence_nll(..., reduction="mean")``)."""
    if isinstance(mean_nll, Tensor):
        mean_nll = mean_nll.detach()
    return math.exp(float(mean_nll))


def edit_distance(a: Tokens, b: Tokens) -> int:
    """Levenshtein distance between token sequences ``a`` and ``b`` (strings are sequences of characters).

    Dynamic programming over one row: ``d[j]`` is the distance between ``a[:i]`` and ``b[:j]``.
    """
    previous = list(range(len(b) + 1))  # distances from the empty prefix of a
    for i, token_a in enumerate(a, start=1):
        current = [i]
        for j, token_b in enumerate(b, start=1):
            substitute = previous[j - 1] + (token_a != token_b)
            current.append(min(previous[j] + 1, current[j - 1] + 1, substitute))
        previous = current
    return previous[-1]


def _references(refs: Sequence, multi_reference: bool, n: int) -> list[list[Tokens]]:
    if len(refs) != n:
        raise ValueError(f"got {n} hypotheses but {len(refs)} references")
    if multi_reference:
        for i, alternatives in enumerate(refs):
            if len(alternatives) == 0:
                raise ValueError(f"example {i} has no reference")
        return [list(alternatives) for alternatives in refs]
    return [[ref] for ref in refs]


def error_rate(hyps: Sequence[Tokens], refs: Sequence, *, multi_reference: bool = False) -> float:
    """Sum of edit distances over the sum of reference lengths (CER / PER / WER by token type)."""
    errors = 0
    length = 0
    for hyp, alternatives in zip(hyps, _references(refs, multi_reference, len(hyps))):
        distance, ref = min(((edit_distance(hyp, ref), ref) for ref in alternatives), key=lambda pair: pair[0])
        errors += distance
        length += len(ref)
    if length == 0:
        raise ValueError("error_rate: the references hold no tokens")
    return errors / length


def sequence_error_rate(hyps: Sequence[Tokens], refs: Sequence, *, multi_reference: bool = False) -> float:
    """Fraction of hypotheses that equal none of their references."""
    if len(hyps) == 0:
        raise ValueError("sequence_error_rate: no hypotheses")
    alternatives_per_example = _references(refs, multi_reference, len(hyps))
    wrong = sum(
        all(list(hyp) != list(ref) for ref in alternatives) for hyp, alternatives in zip(hyps, alternatives_per_example)
    )
    return wrong / len(hyps)


def character_error_rate(hyps: Sequence[str], refs: Sequence, *, multi_reference: bool = False) -> float:
    """Character error rate of strings (every character is a token, spaces included)."""
    return error_rate(hyps, refs, multi_reference=multi_reference)


def word_error_rate(hyps: Sequence[str], refs: Sequence, *, multi_reference: bool = False) -> float:
    """Word error rate of strings split on whitespace (speech recognition's WER)."""
    split_refs = [[r.split() for r in alts] for alts in refs] if multi_reference else [r.split() for r in refs]
    return error_rate([h.split() for h in hyps], split_refs, multi_reference=multi_reference)


def phoneme_error_rate(hyps: Sequence[Tokens], refs: Sequence, *, multi_reference: bool = False) -> float:
    """Phoneme error rate of phoneme sequences (lists of symbols such as ``["K", "AE1", "T"]``)."""
    return error_rate(hyps, refs, multi_reference=multi_reference)


__all__ = [
    "accuracy",
    "character_error_rate",
    "edit_distance",
    "error_rate",
    "perplexity",
    "phoneme_error_rate",
    "sequence_error_rate",
    "word_error_rate",
]
