"""Many-to-one: a sequence in, one label (or one vector of real values) out.

Seed 004's *many to one* topology (sentiment analysis; here also time-series classification). The
recurrent layer reads the whole sequence, a pooling step turns its outputs into one vector ``z``, and a
linear head maps ``z`` to the outputs:

.. math::

    h_1..h_T = \\mathrm{RNN}(x_1..x_T), \\qquad z = \\mathrm{pool}(h_1..h_T), \\qquad y = W_y z + b_y

``x_t`` is the embedding of token ``t`` or the ``t``-th row of a real-valued series; ``pool`` is the final
state, the mean or the max over the valid steps, or attention pooling (:mod:`rnnkit.models.pooling`).
For ``task="classification"`` ``y`` are the class logits (softmax cross-entropy); for
``task="regression"`` ``y`` are the predicted values themselves (squared error).

Example::

    import torch
    from rnnkit.models import SequenceClassifier, SequenceClassifierConfig
    model = SequenceClassifier(SequenceClassifierConfig(num_outputs=3, vocab_size=100, pooling="attention"))
    out = model(torch.randint(1, 100, (2, 7)), torch.tensor([7, 4]))
    print(out.logits.shape, out.attention.shape)  # torch.Size([2, 3]) torch.Size([2, 7])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

from torch import Tensor, nn

from rnnkit.models.config_checks import (
    check_choice,
    check_exactly_one,
    check_padding_idx,
    check_positive,
    check_positive_or_none,
    check_probability,
)
from rnnkit.models.padded_sequence import PaddedSequenceModel
from rnnkit.models.pooling import POOLING_TYPES, PoolingType, SequencePooling
from rnnkit.models.recurrence import CellType, RecurrentOptions


@dataclass
class SequenceClassifierConfig(RecurrentOptions):
    num_outputs: int  # classes (classification) or real-valued targets per sequence (regression)
    vocab_size: int | None = None  # token input: rows of the embedding; None when the input is real-valued
    input_size: int | None = None  # real-valued input: channels C of a (B, T, C) series; None for tokens
    task: Literal["classification", "regression"] = "classification"  # logits, or the values themselves
    embedding_dim: int = 64  # token embedding size (unused for real-valued input)
    hidden_size: int = 128  # recurrent state size per direction
    num_layers: int = 1  # stacked recurrent layers
    cell: CellType = "lstm"  # LSTM/GRU keep gradients alive over long inputs; "rnn" is the Elman baseline
    bidirectional: bool = False  # a backward direction lets every pooled state see the whole sequence
    dropout: float = 0.0  # on the inputs (embeddings or series), between stacked layers and before the head
    pooling: PoolingType = "last"  # how T outputs become one vector (see rnnkit.models.pooling)
    attention_size: int | None = None  # size of the attention projection (pooling="attention"); None: D*H
    padding_idx: int = 0  # token id of padding: its embedding row stays zero

    def __post_init__(self) -> None:
        check_exactly_one(self, "vocab_size", "input_size")
        check_positive(self, "num_outputs", "embedding_dim", "hidden_size", "num_layers")
        check_positive_or_none(self, "vocab_size", "input_size", "attention_size")
        check_choice(self, "task", ("classification", "regression"))
        self.check_recurrent_options()
        check_choice(self, "pooling", POOLING_TYPES)
        check_probability(self, "dropout")
        check_padding_idx(self, "vocab_size")


class ClassifierOutput(NamedTuple):
    logits: Tensor  # (B, num_outputs): class logits, or the predicted values for regression
    attention: Tensor | None  # (B, T) attention-pooling weights (zero on padding); None for other pooling


class SequenceClassifier(PaddedSequenceModel):
    """Many-to-one RNN: ``forward(inputs, lengths) -> ClassifierOutput(logits (B, n), attention (B, T) | None)``.

    ``inputs`` is ``LongTensor (B, T)`` (with ``vocab_size``) or ``FloatTensor (B, T, C)`` (with
    ``input_size``); ``lengths (B,)`` counts each example's valid steps.
    """

    def __init__(self, config: SequenceClassifierConfig) -> None:
        super().__init__(config)
        c = config
        self.pool = SequencePooling(c.pooling, self.output_size, self.num_directions, c.attention_size)
        self.head = nn.Linear(self.output_size, c.num_outputs)  # W_y, b_y

    def forward(self, inputs: Tensor, lengths: Tensor) -> ClassifierOutput:
        h = self.read(inputs, lengths)  # (B, T, D*H)
        z, weights = self.pool(h, lengths)  # (B, D*H), (B, T) | None
        return ClassifierOutput(self.head(self.dropout(z)), weights)
