import torch

from rnnkit.attention.masking import lengths_to_mask
from rnnkit.attention.pooling import AttentionPooling


def test_weights_sum_to_one_zero_on_padding_and_pooled_is_weighted_sum():
    torch.manual_seed(3)
    pool = AttentionPooling(5, 4)
    inputs = torch.randn(3, 6, 5)
    mask = lengths_to_mask(torch.tensor([6, 2, 4]), max_len=6)
    pooled, weights = pool(inputs, mask)
    assert torch.allclose(weights.sum(1), torch.ones(3))
    assert torch.all(weights[~mask] == 0)
    assert torch.allclose(pooled, torch.einsum("bt,bth->bh", weights, inputs), atol=1e-6)


def test_formula_of_yang_et_al():
    torch.manual_seed(4)
    pool = AttentionPooling(3, 2)
    inputs = torch.randn(1, 4, 3)
    _, weights = pool(inputs)
    u = torch.tanh(inputs[0] @ pool.proj.weight.T + pool.proj.bias)  # (T, A)
    assert torch.allclose(weights[0], torch.softmax(u @ pool.context_vector, 0), atol=1e-6)


def test_padded_example_equals_example_alone():
    torch.manual_seed(5)
    pool = AttentionPooling(4)
    short = torch.randn(1, 2, 4)
    padded = torch.cat([short, torch.randn(1, 3, 4)], 1)
    alone, _ = pool(short)
    in_batch, _ = pool(padded, lengths_to_mask(torch.tensor([2]), max_len=5))
    assert torch.allclose(alone, in_batch, atol=1e-6)
