"""SequenceClassifier: fits real samples (BBC News text, JapaneseVowels series, a regression target);
padding never changes a result, for every pooling; attention weights are a distribution over valid steps."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import SequenceClassifier, SequenceClassifierConfig

def read_ts(path, per_class: int) -> tuple[list[torch.Tensor], list[int]]:
    """The first ``per_class`` series of each class in a multivariate ``.ts`` file: channels are separated
    by ``:``, values by ``,``, and the class label comes last. Returns ``(T, C)`` tensors and 0-based labels."""
    series, labels, seen = [], [], {}
    in_data = False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.lower() == "@data":
            in_data = True
            continue
        if not in_data:
            continue
        *channels, label = line.split(":")
        try:
            values = torch.tensor([[float(v) for v in c.split(",")] for c in channels])  # (C, T)
        except ValueError as error:
            raise ValueError(f"{path}:{number}: {error}") from None
        if seen.get(label, 0) < per_class:
            seen[label] = seen.get(label, 0) + 1
            series.append(values.T)  # (T, C)
            labels.append(int(label) - 1)
    return series, labels


def pad(rows: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(r) for r in rows])
    return torch.nn.utils.rnn.pad_sequence(rows, batch_first=True), lengths


def bbc_batch(bbc, tokenize, per_class: int, max_words: int):
    articles = bbc(per_class)
    categories = sorted({c for c, _ in articles})
    docs = [tokenize(" ".join(paragraphs))[:max_words] for _, paragraphs in articles]
    vocab = {w: i for i, w in enumerate(sorted({w for d in docs for w in d}), start=1)}  # 0 is padding
    tokens, lengths = pad([torch.tensor([vocab[w] for w in d]) for d in docs])
    labels = torch.tensor([categories.index(c) for c, _ in articles])
    return tokens, lengths, labels, len(vocab) + 1


@pytest.mark.parametrize("pooling, cell", [("attention", "lstm"), ("last", "gru")])
def test_fits_bbc_news_articles(bbc, tokenize, overfit, pooling, cell):
    tokens, lengths, labels, vocab_size = bbc_batch(bbc, tokenize, per_class=3, max_words=30)
    config = SequenceClassifierConfig(
        num_outputs=5, vocab_size=vocab_size, embedding_dim=24, hidden_size=24, cell=cell, pooling=pooling
    )
    model = SequenceClassifier(config)
    loss = overfit(model, lambda: F.cross_entropy(model(tokens, lengths).logits, labels), steps=60)
    assert loss < 0.05
    assert torch.equal(model(tokens, lengths).logits.argmax(1), labels)


@pytest.fixture
def vowels(site_packages):
    return site_packages / "aeon" / "datasets" / "data" / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts"


def test_fits_japanese_vowels_speakers(vowels, overfit):
    series, speakers = read_ts(vowels, per_class=3)
    assert len(series) == 27 and {s.size(1) for s in series} == {12}
    x, lengths = pad(series)
    labels = torch.tensor(speakers)
    config = SequenceClassifierConfig(
        num_outputs=9, input_size=12, hidden_size=32, cell="gru", bidirectional=True, pooling="mean"
    )
    model = SequenceClassifier(config)
    loss = overfit(model, lambda: F.cross_entropy(model(x, lengths).logits, labels), steps=80)
    assert loss < 0.05


def test_regression_head_fits_series_statistics(vowels, overfit):
    series, _ = read_ts(vowels, per_class=2)
    x, lengths = pad(series)
    # targets: each utterance's mean of the first two channels, a quantity read off the whole sequence
    targets = torch.stack([s[:, :2].mean(0) for s in series])  # (B, 2)
    config = SequenceClassifierConfig(num_outputs=2, input_size=12, hidden_size=32, task="regression", pooling="mean")
    model = SequenceClassifier(config)
    with torch.no_grad():
        initial = float(F.mse_loss(model(x, lengths).logits, targets))
    loss = overfit(model, lambda: F.mse_loss(model(x, lengths).logits, targets), steps=150)
    assert loss < 0.02 * initial and loss < 1e-3


@pytest.mark.parametrize("pooling", ["last", "mean", "max", "attention"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_padded_batch_equals_each_example_alone(pooling, bidirectional):
    config = SequenceClassifierConfig(
        num_outputs=3, vocab_size=30, embedding_dim=8, hidden_size=6, num_layers=2,
        bidirectional=bidirectional, pooling=pooling,
    )
    model = SequenceClassifier(config).eval()
    lengths = torch.tensor([5, 2, 7])
    tokens = torch.randint(1, 30, (3, 9))  # padded to 9; the tail holds real ids, not zeros, to catch leaks
    batch = model(tokens, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone = model(tokens[b : b + 1, :n], lengths[b : b + 1])
        torch.testing.assert_close(batch.logits[b], alone.logits[0], rtol=1e-5, atol=1e-6)
        if pooling == "attention":
            torch.testing.assert_close(batch.attention[b, :n], alone.attention[0], rtol=1e-5, atol=1e-6)
        else:
            assert batch.attention is None


def test_last_pooling_is_the_final_states_of_both_directions():
    config = SequenceClassifierConfig(num_outputs=2, vocab_size=20, hidden_size=5, bidirectional=True)
    model = SequenceClassifier(config).eval()
    tokens, lengths = torch.randint(1, 20, (2, 6)), torch.tensor([6, 3])
    _, (h_n, _) = model.rnn(
        torch.nn.utils.rnn.pack_padded_sequence(model.input(tokens), lengths, batch_first=True, enforce_sorted=False)
    )
    final = torch.cat([h_n[0], h_n[1]], dim=1)  # forward after its last step, backward after step 1
    torch.testing.assert_close(model(tokens, lengths).logits, model.head(final))


def test_attention_weights_sum_to_one_over_valid_steps_and_are_zero_on_padding():
    config = SequenceClassifierConfig(num_outputs=2, input_size=4, hidden_size=5, pooling="attention")
    lengths = torch.tensor([4, 1, 6])
    weights = SequenceClassifier(config)(torch.randn(3, 6, 4), lengths).attention
    valid = torch.arange(6) < lengths.unsqueeze(1)
    torch.testing.assert_close(weights.sum(1), torch.ones(3))
    assert torch.all(weights[~valid] == 0) and torch.all(weights[valid] > 0)


def test_config_and_input_errors_name_the_problem():
    with pytest.raises(ValueError, match="exactly one of vocab_size or input_size"):
        SequenceClassifierConfig(num_outputs=2)
    with pytest.raises(ValueError, match="pooling"):
        SequenceClassifierConfig(num_outputs=2, vocab_size=5, pooling="median")
    with pytest.raises(ValueError, match="dropout"):
        SequenceClassifierConfig(num_outputs=2, vocab_size=5, dropout=1.5)
    model = SequenceClassifier(SequenceClassifierConfig(num_outputs=2, vocab_size=5))
    with pytest.raises(ValueError, match=r"lengths\[1\] = 0"):
        model(torch.ones(2, 3, dtype=torch.long), torch.tensor([3, 0]))
    with pytest.raises(ValueError, match="token ids must be in"):
        model(torch.full((1, 3), 5), torch.tensor([3]))
