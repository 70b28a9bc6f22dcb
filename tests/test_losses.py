import math

import pytest
import torch
import torch.nn.functional as F

from rnnkit.losses import sequence_nll, token_nll


def test_nll_is_minus_log_of_product_of_step_probabilities():
    # Two steps with probabilities 0.5 and 0.25 of the targets: -log(0.5 * 0.25).
    probs = torch.tensor([[[0.5, 0.5, 0.0 + 1e-30], [0.25, 0.5, 0.25]]])
    targets = torch.tensor([[1, 2]])
    nll = sequence_nll(probs.log(), targets, reduction="sequence")
    assert torch.allclose(nll, torch.tensor([-math.log(0.5 * 0.25)]))


def test_padding_is_ignored_and_mean_is_per_valid_token():
    logits = torch.randn(2, 4, 5)
    targets = torch.tensor([[1, 2, 3, 0], [4, 0, 0, 0]])
    total = sequence_nll(logits, targets, pad_id=0, reduction="sum")
    reference = F.cross_entropy(logits.reshape(-1, 5), targets.reshape(-1), ignore_index=0, reduction="sum")
    assert torch.allclose(total, reference)
    mean = sequence_nll(logits, targets, pad_id=0)
    assert torch.allclose(mean, reference / 4)
    per_token = sequence_nll(logits, targets, pad_id=0, reduction="none")
    assert torch.all(per_token[targets == 0] == 0)


def test_garbage_in_padding_changes_nothing():
    logits = torch.randn(1, 3, 4)
    targets = torch.tensor([[2, 1, 0]])
    mask = torch.tensor([[True, True, False]])
    garbage = logits.clone()
    garbage[0, 2] = 1e4
    assert torch.equal(sequence_nll(logits, targets, mask), sequence_nll(garbage, targets, mask))


def test_label_smoothing_matches_torch():
    logits = torch.randn(3, 2, 6)
    targets = torch.randint(0, 6, (3, 2))
    ours = sequence_nll(logits, targets, label_smoothing=0.1)
    reference = F.cross_entropy(logits.reshape(-1, 6), targets.reshape(-1), label_smoothing=0.1)
    assert torch.allclose(ours, reference, atol=1e-6)


def test_bad_shapes_and_options_are_reported():
    with pytest.raises(ValueError, match="logits must have shape"):
        token_nll(torch.zeros(2, 3, 4), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="reduction"):
        sequence_nll(torch.zeros(1, 1, 2), torch.zeros(1, 1, dtype=torch.long), reduction="avg")
