"""Synchronous many-to-many: one label per input step (tagging).

Seed 004's *synchronous many to many* topology (a label per character, per word, per video frame). A
bidirectional recurrent layer lets each step's label depend on the whole sequence, past and future:

.. math::

    \\overrightarrow{h}_t = \\mathrm{RNN}_\\rightarrow(x_t, \\overrightarrow{h}_{t-1}), \\qquad
    \\overleftarrow{h}_t = \\mathrm{RNN}_\\leftarrow(x_t, \\overleftarrow{h}_{t+1}), \\qquad
    y_t = W_y [\\overrightarrow{h}_t; \\overleftarrow{h}_t] + b_y

With ``bidirectional=False`` only the forward half remains and ``y_t`` depends on ``x_1..x_t`` alone
(online tagging). The logits at padded steps carry no information and a masked loss ignores them.

Example::

    import torch
    from rnnkit.models import SequenceTagger, SequenceTaggerConfig
    model = SequenceTagger(SequenceTaggerConfig(num_tags=2, vocab_size=30))
    logits = model(torch.randint(1, 30, (2, 9)), torch.tensor([9, 5]))
    print(logits.shape)  # torch.Size([2, 9, 2])
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from rnnkit.models.config_checks import (
    check_exactly_one,
    check_padding_idx,
    check_positive,
    check_positive_or_none,
    check_probability,
)
from rnnkit.models.padded_sequence import PaddedSequenceModel
from rnnkit.models.recurrence import CellType, RecurrentOptions


@dataclass
class SequenceTaggerConfig(RecurrentOptions):
    num_tags: int  # labels a step can take
    vocab_size: int | None = None  # token input: rows of the embedding; None when the input is real-valued
    input_size: int | None = None  # real-valued input: channels C of a (B, T, C) series; None for tokens
    embedding_dim: int = 64  # token embedding size (unused for real-valued input)
    hidden_size: int = 128  # recurrent state size per direction
    num_layers: int = 1  # stacked recurrent layers
    cell: CellType = "lstm"  # LSTM/GRU keep gradients alive over long inputs; "rnn" is the Elman baseline
    bidirectional: bool = True  # a step's tag usually depends on what follows it as well as what precedes
    dropout: float = 0.0  # on the inputs (embeddings or series), between stacked layers and before the output layer
    padding_idx: int = 0  # token id of padding: its embedding row stays zero

    def __post_init__(self) -> None:
        check_exactly_one(self, "vocab_size", "input_size")
        check_positive(self, "num_tags", "embedding_dim", "hidden_size", "num_layers")
        check_positive_or_none(self, "vocab_size", "input_size")
        self.check_recurrent_options()
        check_probability(self, "dropout")
        check_padding_idx(self, "vocab_size")


class SequenceTagger(PaddedSequenceModel):
    """Synchronous many-to-many RNN: ``forward(inputs, lengths) -> logits (B, T, num_tags)``.

    ``inputs`` is ``LongTensor (B, T)`` (with ``vocab_size``) or ``FloatTensor (B, T, C)`` (with
    ``input_size``); ``lengths (B,)`` counts each example's valid steps.
    """

    def __init__(self, config: SequenceTaggerConfig) -> None:
        super().__init__(config)
        self.head = nn.Linear(self.output_size, config.num_tags)  # W_y, b_y

    def forward(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        h = self.read(inputs, lengths)  # (B, T, D*H)
        return self.head(self.dropout(h))  # (B, T, num_tags)
