"""HierarchicalAttentionNetwork: fits real BBC News documents; both attention levels are distributions over
the valid words and sentences, zero on padding; padding never changes a result; the word encoder runs once
over all valid sentences of the batch."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import HANConfig, HierarchicalAttentionNetwork


def documents(articles, tokenize, max_sentences: int, max_words: int) -> list[list[list[str]]]:
    """Each article as sentences of words; article ``k`` keeps ``2 + k % (max_sentences - 1)`` sentences so
    that documents differ in length, and every sentence at most ``max_words`` words."""
    docs = []
    for k, (_, paragraphs) in enumerate(articles):
        sentences = [s for p in paragraphs for s in re.split(r"(?<=[.!?])\s+", p)]
        sentences = [tokenize(s)[:max_words] for s in sentences]
        docs.append([s for s in sentences if s][: 2 + k % (max_sentences - 1)])
    return docs


def pad_documents(docs, vocab) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    S, W = max(len(d) for d in docs), max(len(s) for d in docs for s in d)
    words = torch.zeros(len(docs), S, W, dtype=torch.long)
    word_counts = torch.zeros(len(docs), S, dtype=torch.long)
    for b, doc in enumerate(docs):
        for i, sentence in enumerate(doc):
            words[b, i, : len(sentence)] = torch.tensor([vocab[w] for w in sentence])
            word_counts[b, i] = len(sentence)
    return words, torch.tensor([len(d) for d in docs]), word_counts


def random_batch(vocab_size: int = 40):
    sentence_counts = torch.tensor([3, 1, 4])
    word_counts = torch.tensor([[5, 2, 6, 0], [3, 0, 0, 0], [1, 6, 4, 2]])
    words = torch.randint(1, vocab_size, (3, 4, 6))  # padding holds real ids, not zeros, to catch leaks
    return words, sentence_counts, word_counts


def small_han(**overrides) -> HierarchicalAttentionNetwork:
    options = dict(
        vocab_size=40, num_classes=3, embedding_dim=8, word_hidden_size=5, sentence_hidden_size=4,
        word_attention_size=6, sentence_attention_size=6,
    )
    return HierarchicalAttentionNetwork(HANConfig(**{**options, **overrides})).eval()


def test_fits_bbc_news_documents(bbc, tokenize, overfit):
    articles = bbc(3)
    docs = documents(articles, tokenize, max_sentences=4, max_words=12)
    vocab = {w: i for i, w in enumerate(sorted({w for d in docs for s in d for w in s}), start=1)}
    words, sentence_counts, word_counts = pad_documents(docs, vocab)
    categories = sorted({c for c, _ in articles})
    labels = torch.tensor([categories.index(c) for c, _ in articles])
    config = HANConfig(
        vocab_size=len(vocab) + 1, num_classes=len(categories), embedding_dim=24, word_hidden_size=16,
        sentence_hidden_size=16, word_attention_size=16, sentence_attention_size=16,
    )
    model = HierarchicalAttentionNetwork(config)

    def loss():
        return F.cross_entropy(model(words, sentence_counts, word_counts).logits, labels)

    assert overfit(model, loss, steps=60) < 0.05
    out = model(words, sentence_counts, word_counts)
    assert torch.equal(out.logits.argmax(1), labels)
    assert_attention_is_a_distribution_over_valid_positions(out, sentence_counts, word_counts)


def assert_attention_is_a_distribution_over_valid_positions(out, sentence_counts, word_counts):
    B, S, W = out.word_attention.shape
    valid_sentences = torch.arange(S) < sentence_counts.unsqueeze(1)  # (B, S)
    valid_words = valid_sentences.unsqueeze(2) & (torch.arange(W) < word_counts.unsqueeze(2))  # (B, S, W)
    torch.testing.assert_close(out.sentence_attention.sum(1), torch.ones(B))
    word_sums = out.word_attention.sum(2)  # (B, S)
    torch.testing.assert_close(word_sums[valid_sentences], torch.ones(int(valid_sentences.sum())))
    assert torch.all(out.sentence_attention[~valid_sentences] == 0)
    assert torch.all(out.word_attention[~valid_words] == 0)
    assert torch.all(out.word_attention[valid_words] > 0)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_attention_sums_to_one_over_valid_positions_and_is_zero_on_padding(cell):
    words, sentence_counts, word_counts = random_batch()
    out = small_han(cell=cell)(words, sentence_counts, word_counts)
    assert out.logits.shape == (3, 3)
    assert out.word_attention.shape == (3, 4, 6) and out.sentence_attention.shape == (3, 4)
    assert_attention_is_a_distribution_over_valid_positions(out, sentence_counts, word_counts)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_padded_batch_equals_each_document_alone(bidirectional):
    model = small_han(bidirectional=bidirectional)
    words, sentence_counts, word_counts = random_batch()
    batch = model(words, sentence_counts, word_counts)
    for b in range(3):
        S = int(sentence_counts[b])
        W = int(word_counts[b, :S].max())
        alone = model(words[b : b + 1, :S, :W], sentence_counts[b : b + 1], word_counts[b : b + 1, :S])
        torch.testing.assert_close(batch.logits[b], alone.logits[0], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(batch.sentence_attention[b, :S], alone.sentence_attention[0], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(batch.word_attention[b, :S, :W], alone.word_attention[0], rtol=1e-5, atol=1e-6)


def test_word_encoder_runs_once_over_all_valid_sentences():
    model = small_han()
    words, sentence_counts, word_counts = random_batch()
    calls = []
    model.word_encoder.register_forward_hook(lambda module, args, output: calls.append(args[0].batch_sizes[0]))
    model(words, sentence_counts, word_counts)
    assert calls == [int(sentence_counts.sum())]  # one packed call holding the 8 valid sentences


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="word_hidden_size"):
        HANConfig(vocab_size=10, num_classes=2, word_hidden_size=0)
    model = small_han()
    words, sentence_counts, word_counts = random_batch()
    word_counts[2, 3] = 0
    with pytest.raises(ValueError, match=r"word_counts\[2, 3\] = 0"):
        model(words, sentence_counts, word_counts)
    with pytest.raises(ValueError, match="sentence_counts"):
        model(words, torch.tensor([3, 5, 4]), word_counts)
