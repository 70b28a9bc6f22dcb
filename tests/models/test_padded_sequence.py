import pytest
import torch

from rnnkit.models import SequenceTaggerConfig
from rnnkit.models.padded_sequence import PaddedSequenceModel


def test_read_is_zero_at_padding_and_each_example_reads_as_alone():
    model = PaddedSequenceModel(SequenceTaggerConfig(num_tags=2, vocab_size=12, hidden_size=5)).eval()
    assert model.output_size == 10 and model.num_directions == 2
    tokens = torch.randint(1, 12, (2, 6))
    tokens[1, 4:] = 0
    h = model.read(tokens, torch.tensor([6, 4]))
    assert h.shape == (2, 6, 10) and not h[1, 4:].any()
    alone = model.read(tokens[1:, :4], torch.tensor([4]))
    torch.testing.assert_close(h[1:, :4], alone, rtol=0, atol=1e-6)


def test_read_checks_lengths():
    model = PaddedSequenceModel(SequenceTaggerConfig(num_tags=2, input_size=3, hidden_size=4, bidirectional=False))
    with pytest.raises(ValueError, match=r"lengths\[1\] = 7"):
        model.read(torch.randn(2, 5, 3), torch.tensor([5, 7]))
