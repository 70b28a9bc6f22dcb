"""Hierarchical attention network for document classification (Yang, Yang, Dyer, He, Smola & Hovy 2016,
"Hierarchical Attention Networks for Document Classification"; seed 002, section 4.5.3).

A document is a sequence of sentences, a sentence a sequence of words. Words are encoded and pooled by
*word attention* into one vector per sentence; sentences are encoded and pooled by *sentence attention*
into one vector per document, which a linear layer classifies. With ``w_it`` the ``t``-th word of
sentence ``i`` (paper eq. 5-11):

.. math::

    h_{it} = \\mathrm{BiGRU}_w(W_e w_{it}), \\quad
    u_{it} = \\tanh(W_w h_{it} + b_w), \\quad
    \\alpha_{it} = \\frac{\\exp(u_{it}^\\top u_w)}{\\sum_t \\exp(u_{it}^\\top u_w)}, \\quad
    s_i = \\sum_t \\alpha_{it} h_{it}

.. math::

    h_i = \\mathrm{BiGRU}_s(s_i), \\quad
    u_i = \\tanh(W_s h_i + b_s), \\quad
    \\alpha_i = \\frac{\\exp(u_i^\\top u_s)}{\\sum_i \\exp(u_i^\\top u_s)}, \\quad
    v = \\sum_i \\alpha_i h_i, \\quad
    p = \\mathrm{softmax}(W_c v + b_c)

The sums run over valid words and sentences only; the attention weights ``alpha`` are returned (zero on
padding) to show which words and sentences decided the class. The word encoder runs once over every
valid sentence of the batch packed together, not document by document.

Example::

    import torch
    from rnnkit.models import HierarchicalAttentionNetwork, HANConfig
    model = HierarchicalAttentionNetwork(HANConfig(vocab_size=50, num_classes=4))
    words = torch.randint(1, 50, (2, 3, 5))  # (B documents, S sentences, W words)
    out = model(words, torch.tensor([3, 2]), torch.tensor([[5, 2, 4], [3, 5, 0]]))
    print(out.logits.shape, out.word_attention.shape)  # torch.Size([2, 4]) torch.Size([2, 3, 5])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from torch import Tensor, nn

from rnnkit.attention import AttentionPooling, lengths_to_mask
from rnnkit.models.config_checks import check_padding_idx, check_positive, check_probability
from rnnkit.models.inputs import check_integer_tensor
from rnnkit.models.recurrence import CellType, RecurrentOptions, check_lengths, recurrent_layer, run_padded


@dataclass
class HANConfig(RecurrentOptions):
    vocab_size: int  # rows of the word embedding
    num_classes: int  # document classes
    embedding_dim: int = 100  # word embedding size W_e (the paper: 200, from word2vec)
    word_hidden_size: int = 50  # word encoder state per direction (the paper: 50)
    sentence_hidden_size: int = 50  # sentence encoder state per direction (the paper: 50)
    word_attention_size: int = 100  # size of u_it and of the word context vector u_w (the paper: 100)
    sentence_attention_size: int = 100  # size of u_i and of the sentence context vector u_s (the paper: 100)
    cell: CellType = "gru"  # the paper's choice; any of rnnkit's cells is allowed
    bidirectional: bool = True  # each word (sentence) summarises its whole sentence (document) around it
    dropout: float = 0.0  # on the word embeddings, the sentence vectors and the document vector
    padding_idx: int = 0  # word id of padding: its embedding row stays zero

    def __post_init__(self) -> None:
        check_positive(
            self,
            "vocab_size",
            "num_classes",
            "embedding_dim",
            "word_hidden_size",
            "sentence_hidden_size",
            "word_attention_size",
            "sentence_attention_size",
        )
        self.check_recurrent_options()
        check_probability(self, "dropout")
        check_padding_idx(self, "vocab_size")


class HANOutput(NamedTuple):
    logits: Tensor  # (B, num_classes)
    word_attention: Tensor  # (B, S, W) alpha_it: sums to 1 over each valid sentence's words, 0 on padding
    sentence_attention: Tensor  # (B, S) alpha_i: sums to 1 over each document's sentences, 0 on padding


class HierarchicalAttentionNetwork(nn.Module):
    """``forward(words (B, S, W), sentence_counts (B,), word_counts (B, S)) -> HANOutput``.

    ``words[b, i, t]`` is the ``t``-th word id of sentence ``i`` of document ``b``; document ``b`` has
    ``sentence_counts[b]`` sentences, its sentence ``i`` has ``word_counts[b, i]`` words (entries for
    padding sentences are ignored).
    """

    def __init__(self, config: HANConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        directions = 2 if c.bidirectional else 1
        word_size, sentence_size = directions * c.word_hidden_size, directions * c.sentence_hidden_size
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim, padding_idx=c.padding_idx)  # W_e
        self.dropout = nn.Dropout(c.dropout)
        self.word_encoder = recurrent_layer(
            c.recurrent_config(c.embedding_dim, c.word_hidden_size, bidirectional=c.bidirectional)
        )
        self.word_attention = AttentionPooling(word_size, c.word_attention_size)  # W_w, b_w, u_w
        self.sentence_encoder = recurrent_layer(
            c.recurrent_config(word_size, c.sentence_hidden_size, bidirectional=c.bidirectional)
        )
        self.sentence_attention = AttentionPooling(sentence_size, c.sentence_attention_size)  # W_s, b_s, u_s
        self.classifier = nn.Linear(sentence_size, c.num_classes)  # W_c, b_c

    def forward(self, words: Tensor, sentence_counts: Tensor, word_counts: Tensor) -> HANOutput:
        self._check_inputs(words, sentence_counts, word_counts)
        B, S, W = words.shape
        valid = lengths_to_mask(sentence_counts, S)  # (B, S) which sentences exist
        # Word level: all N valid sentences of the batch as one packed batch.
        sentence_words = words[valid]  # (N, W)
        sentence_lengths = word_counts[valid]  # (N,)
        x = self.dropout(self.embedding(sentence_words))  # (N, W, E)
        h_words, _ = run_padded(self.word_encoder, x, sentence_lengths)  # (N, W, D*Hw)
        sentence_vectors, alpha_words = self.word_attention(h_words, lengths_to_mask(sentence_lengths, W))
        # Back to documents: (N, ·) rows scattered into their (b, i) slots, zeros for padding sentences.
        sentences = sentence_vectors.new_zeros(B, S, sentence_vectors.size(1))
        sentences[valid] = sentence_vectors  # (B, S, D*Hw)
        word_attention = alpha_words.new_zeros(B, S, W)
        word_attention[valid] = alpha_words  # (B, S, W)
        # Sentence level.
        h_sentences, _ = run_padded(self.sentence_encoder, self.dropout(sentences), sentence_counts)  # (B, S, D*Hs)
        document, alpha_sentences = self.sentence_attention(h_sentences, valid)  # (B, D*Hs), (B, S)
        return HANOutput(self.classifier(self.dropout(document)), word_attention, alpha_sentences)

    def _check_inputs(self, words: Tensor, sentence_counts: Tensor, word_counts: Tensor) -> None:
        check_integer_tensor(words, "words", ("B", "S", "W"))
        B, S, W = words.shape
        check_lengths(sentence_counts, B, S, "sentence_counts")
        if word_counts.shape != (B, S):
            raise ValueError(f"word_counts must have shape ({B}, {S}), got {tuple(word_counts.shape)}")
        valid = lengths_to_mask(sentence_counts, S)
        bad = (valid & ((word_counts < 1) | (word_counts > W))).nonzero()
        if bad.numel():
            b, i = (int(v) for v in bad[0])
            raise ValueError(
                f"word_counts[{b}, {i}] = {int(word_counts[b, i])} is outside [1, {W}] for a valid sentence"
            )
        if int(words.min()) < 0 or int(words.max()) >= self.config.vocab_size:
            raise ValueError(
                f"word ids must be in [0, {self.config.vocab_size}), got min {int(words.min())}, max {int(words.max())}"
            )
