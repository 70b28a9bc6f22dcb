"""Decoding over the step contract (``model.step``, ``model.reorder_state``): greedy, sampling with
temperature / top-k / top-p, and batched beam search with a length penalty and n-best lists."""

from rnnkit.decoding.beam_search import BeamSearchResult, Hypothesis, beam_search, length_penalty
from rnnkit.decoding.contract import Decoded, StepModel
from rnnkit.decoding.greedy import greedy
from rnnkit.decoding.sampling import filter_logits, sample

__all__ = [
    "BeamSearchResult",
    "Decoded",
    "Hypothesis",
    "StepModel",
    "beam_search",
    "filter_logits",
    "greedy",
    "length_penalty",
    "sample",
]
