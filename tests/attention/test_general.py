import torch

from rnnkit.attention.general import GeneralAttention


def test_contract(check_contract):
    check_contract(GeneralAttention(4, 6), 4, 6)


def test_score_is_bilinear_form():
    torch.manual_seed(1)
    attention = GeneralAttention(3, 5)
    query, keys = torch.randn(2, 3), torch.randn(2, 4, 5)
    _, weights = attention(query, keys)
    W = attention.linear_in.weight  # (Hq, Hk)
    scores = torch.einsum("bq,qk,bsk->bs", query, W, keys)
    assert torch.allclose(weights, torch.softmax(scores, 1), atol=1e-6)
