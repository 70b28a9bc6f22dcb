"""Checks every attention score function must pass, offered to the tests as the `check_contract` fixture."""

import pytest
import torch

from rnnkit.attention.masking import lengths_to_mask


def check_contract(attention, query_size: int, key_size: int, value_size: int | None = None) -> None:
    torch.manual_seed(0)
    B, S = 3, 5
    query = torch.randn(B, query_size)
    keys = torch.randn(B, S, key_size)
    values = None if value_size is None else torch.randn(B, S, value_size)
    mask = lengths_to_mask(torch.tensor([5, 3, 1]), max_len=S)
    context, weights = attention(query, keys, mask, values)
    assert weights.shape == (B, S)
    assert torch.allclose(weights.sum(1), torch.ones(B))
    assert torch.all(weights[~mask] == 0)
    assert torch.all(weights[mask] > 0)
    expected_context = torch.einsum("bs,bsh->bh", weights, keys if values is None else values)
    assert torch.allclose(context, expected_context, atol=1e-6)
    # Padding never influences the result: garbage in padded key rows changes nothing.
    garbage = keys.clone()
    garbage[~mask] = 1e3
    context2, weights2 = attention(query, garbage, mask, values)
    assert torch.allclose(weights2, weights) and torch.allclose(context2, context, atol=1e-6)
    # T queries at once give what each gives alone.
    queries = torch.randn(B, 4, query_size)
    many_context, many_weights = attention(queries, keys, mask, values)
    for t in range(4):
        one_context, one_weights = attention(queries[:, t], keys, mask, values)
        assert torch.allclose(many_weights[:, t], one_weights, atol=1e-6)
        assert torch.allclose(many_context[:, t], one_context, atol=1e-6)
    # Keys projected once and reused give the same result.
    context3, weights3 = attention(query, keys, mask, values, projected_keys=attention.project_keys(keys))
    assert torch.equal(weights3, weights) and torch.equal(context3, context)


@pytest.fixture(name="check_contract")
def check_contract_fixture():
    return check_contract
