import pytest
import torch

from rnnkit.attention.masking import lengths_to_mask, masked_softmax


def test_lengths_to_mask_marks_valid_positions():
    mask = lengths_to_mask(torch.tensor([3, 1, 0]), max_len=4)
    expected = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    assert torch.equal(mask, expected)


def test_masked_softmax_matches_softmax_over_valid_prefix_and_is_zero_on_padding():
    scores = torch.tensor([[1.0, 2.0, 3.0, 100.0], [0.5, -1.0, 7.0, 7.0]])
    mask = lengths_to_mask(torch.tensor([3, 2]), max_len=4)
    weights = masked_softmax(scores, mask)
    assert torch.allclose(weights[0, :3], torch.softmax(scores[0, :3], 0))
    assert torch.allclose(weights[1, :2], torch.softmax(scores[1, :2], 0))
    assert torch.all(weights[~mask] == 0)


def test_fully_masked_row_gives_zeros_without_nan_gradient():
    scores = torch.randn(2, 3, requires_grad=True)
    mask = torch.tensor([[True, True, False], [False, False, False]])
    weights = masked_softmax(scores, mask)
    assert torch.all(weights[1] == 0)
    weights.sum().backward()
    assert torch.isfinite(scores.grad).all()


def test_mask_must_be_bool():
    with pytest.raises(TypeError, match="bool"):
        masked_softmax(torch.zeros(1, 2), torch.ones(1, 2))
