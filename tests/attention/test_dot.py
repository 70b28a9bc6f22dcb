import math

import pytest
import torch

from rnnkit.attention.dot import DotAttention


def test_contract(check_contract):
    check_contract(DotAttention(4), 4, 4)
    check_contract(DotAttention(4, scaled=True), 4, 4, value_size=6)


def test_hand_worked_weights():
    # q = [1, 0], keys [1, 0] and [0, 1]: scores 1 and 0 -> weights e/(e+1), 1/(e+1).
    query = torch.tensor([[1.0, 0.0]])
    keys = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    context, weights = DotAttention(2)(query, keys)
    e = math.e
    assert torch.allclose(weights, torch.tensor([[e / (e + 1), 1 / (e + 1)]]))
    assert torch.allclose(context, torch.tensor([[e / (e + 1), 1 / (e + 1)]]))


def test_size_mismatch_is_reported():
    with pytest.raises(ValueError, match="query must have shape"):
        DotAttention(3)(torch.zeros(2, 4), torch.zeros(2, 5, 3))


def test_mask_of_wrong_shape_is_reported():
    with pytest.raises(ValueError, match="mask must be a bool tensor"):
        DotAttention(3)(torch.zeros(2, 3), torch.zeros(2, 5, 3), torch.ones(2, 4, dtype=torch.bool))
