import torch

from rnnkit.attention.additive import AdditiveAttention


def test_contract(check_contract):
    check_contract(AdditiveAttention(4, 6, attention_size=7), 4, 6)


def test_score_is_bahdanau_formula():
    torch.manual_seed(2)
    attention = AdditiveAttention(3, 5, attention_size=4)
    query, keys = torch.randn(2, 3), torch.randn(2, 6, 5)
    _, weights = attention(query, keys)
    W, U, b, v = attention.W.weight, attention.U.weight, attention.U.bias, attention.v.weight[0]
    scores = torch.stack(
        [torch.stack([v @ torch.tanh(W @ query[i] + U @ keys[i, s] + b) for s in range(6)]) for i in range(2)]
    )
    assert torch.allclose(weights, torch.softmax(scores, 1), atol=1e-6)
