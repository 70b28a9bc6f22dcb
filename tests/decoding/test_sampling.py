import math

import pytest
import torch

from rnnkit.decoding.greedy import greedy
from rnnkit.decoding.sampling import filter_logits, sample


def test_top_k_one_and_near_zero_temperature_equal_greedy(tiny_model):
    state = tiny_model.start(4)
    reference = greedy(tiny_model, state, 0, 1, 10)
    assert sample(tiny_model, state, 0, 1, 10, top_k=1).tokens == reference.tokens
    assert sample(tiny_model, state, 0, 1, 10, temperature=1e-4).tokens == reference.tokens


def test_top_p_keeps_smallest_set_reaching_p():
    probs = torch.tensor([[0.5, 0.1, 0.3, 0.1]])
    kept = torch.isfinite(filter_logits(probs.log(), top_p=0.75))
    assert kept.tolist() == [[True, False, True, False]]  # 0.5 + 0.3 >= 0.75
    kept = torch.isfinite(filter_logits(probs.log(), top_p=0.4))
    assert kept.tolist() == [[True, False, False, False]]


def test_top_k_keeps_k_best():
    probs = torch.tensor([[0.5, 0.1, 0.3, 0.1]])
    assert torch.isfinite(filter_logits(probs.log(), top_k=2)).tolist() == [[True, False, True, False]]


def test_samples_follow_the_distribution_and_scores_are_model_log_probs(garden_path_chain):
    generator = torch.Generator().manual_seed(0)
    out = sample(garden_path_chain, torch.zeros(2000, 1), 0, 1, max_len=1, generator=generator)
    first = torch.tensor([tokens[0] for tokens in out.tokens])
    assert abs(float((first == 2).float().mean()) - 0.6) < 0.05
    expected = torch.where(first == 2, math.log(0.6), math.log(0.4))
    assert torch.allclose(out.scores, expected, atol=1e-5)


def test_generator_makes_sampling_reproducible(tiny_model):
    state = tiny_model.start(3)
    a = sample(tiny_model, state, 0, 1, 10, generator=torch.Generator().manual_seed(7))
    b = sample(tiny_model, state, 0, 1, 10, generator=torch.Generator().manual_seed(7))
    assert a.tokens == b.tokens


def test_bad_options_are_reported(tiny_model):
    with pytest.raises(ValueError, match="temperature"):
        sample(tiny_model, tiny_model.start(1), 0, 1, 5, temperature=0)
    with pytest.raises(ValueError, match="top_p"):
        sample(tiny_model, tiny_model.start(1), 0, 1, 5, top_p=1.5)
