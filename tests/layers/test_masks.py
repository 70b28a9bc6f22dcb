"""The random masks: values, dtype and frequency of the zoneout keep mask and the dropout mask."""

from __future__ import annotations

import pytest
import torch

from rnnkit.layers.masks import bernoulli, dropout_mask, zoneout_keep

CPU = torch.device("cpu")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("prob", [0.1, 0.5, 0.9])
def test_bernoulli_is_zero_or_one_with_the_given_frequency(dtype, prob):
    torch.manual_seed(0)
    n = 400_000
    mask = bernoulli(prob, (n,), dtype=dtype, device=CPU)
    assert mask.dtype == dtype
    assert set(mask.unique().tolist()) <= {0.0, 1.0}
    # Binomial standard deviation of the frequency is at most 0.0008; five of them is a loose bound.
    assert abs(mask.double().mean().item() - prob) < 5 * (prob * (1 - prob) / n) ** 0.5


def test_bernoulli_draws_are_independent_across_units():
    torch.manual_seed(1)
    mask = bernoulli(0.3, (200_000, 2), dtype=torch.float32, device=CPU)
    both = (mask[:, 0] * mask[:, 1]).mean().item()
    assert abs(both - 0.09) < 0.004


def test_zoneout_keep_is_random_in_training_and_its_expectation_at_eval():
    torch.manual_seed(2)
    train = zoneout_keep(0.2, (50, 40, 30), training=True, dtype=torch.float32, device=CPU)
    assert train.shape == (50, 40, 30) and set(train.unique().tolist()) == {0.0, 1.0}
    assert abs(train.mean().item() - 0.2) < 0.01
    evaluation = zoneout_keep(0.2, (50, 40, 30), training=False, dtype=torch.float64, device=CPU)
    assert evaluation.shape == (50, 40, 1) and torch.all(evaluation == 0.2)


def test_dropout_mask_has_expectation_one():
    torch.manual_seed(3)
    mask = dropout_mask(0.25, (400, 500), dtype=torch.float64, device=CPU)
    assert set(mask.unique().tolist()) == {0.0, 1 / 0.75}
    assert abs(mask.mean().item() - 1.0) < 0.01
