import pytest
import torch

from rnnkit.models.inputs import SequenceInput, check_integer_tensor


def test_tokens_are_embedded_and_a_series_passes_through():
    tokens = SequenceInput(10, None, 4, padding_idx=0)
    out = tokens(torch.tensor([[3, 0]]))
    assert out.shape == (1, 2, 4) and not out[0, 1].any() and tokens.output_size == 4
    series = SequenceInput(None, 3, 4, padding_idx=0)
    x = torch.randn(2, 5, 3)
    assert series(x) is x and series.output_size == 3
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 10\)"):
        tokens(torch.tensor([[10]]))
    with pytest.raises(ValueError, match=r"float tensor \(B, T, 3\)"):
        series(torch.randn(2, 5, 4))


def test_check_integer_tensor_names_the_tensor_and_its_dimensions():
    check_integer_tensor(torch.zeros(2, 3, dtype=torch.long), "tokens", ("B", "T"))
    with pytest.raises(ValueError, match=r"tokens must be an integer tensor \(B, T\), got torch.float32 \(2, 3\)"):
        check_integer_tensor(torch.zeros(2, 3), "tokens", ("B", "T"))
    with pytest.raises(ValueError, match=r"labels must be an integer tensor \(B,\), got torch.int64 \(2, 1\)"):
        check_integer_tensor(torch.zeros(2, 1, dtype=torch.long), "labels", ("B",))
