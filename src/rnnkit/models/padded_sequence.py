"""The reading half of the classifier and the tagger: a padded batch of token ids or of a real-valued
series through the input layer, dropout and the recurrent layer.

.. math::

    h_1..h_T = \\mathrm{RNN}(\\mathrm{dropout}(x_1..x_T))

``x_t`` is the embedding of token ``t`` or the ``t``-th row of the series (:class:`SequenceInput`); the
batch is packed, so padding never reaches the recurrence and ``h_t`` is zero at padded steps.
"""

from __future__ import annotations

from torch import Tensor, nn

from rnnkit.models.inputs import SequenceInput
from rnnkit.models.recurrence import check_lengths, recurrent_layer, run_padded


class PaddedSequenceModel(nn.Module):
    """Base of :class:`SequenceClassifier` and :class:`SequenceTagger`: builds ``input``, ``dropout`` and
    ``rnn`` (their names in a checkpoint) and reads a batch with :meth:`read`; a subclass adds its head.

    The config has ``vocab_size`` or ``input_size``, ``embedding_dim``, ``padding_idx``, ``hidden_size``,
    ``num_layers``, ``bidirectional``, ``dropout`` and the :class:`RecurrentOptions`.
    """

    def __init__(self, config) -> None:
        super().__init__()
        self.config = c = config
        self.num_directions = 2 if c.bidirectional else 1
        self.input = SequenceInput(c.vocab_size, c.input_size, c.embedding_dim, c.padding_idx)
        self.dropout = nn.Dropout(c.dropout)
        self.rnn = recurrent_layer(
            c.recurrent_config(self.input.output_size, c.hidden_size, c.num_layers, c.bidirectional, c.dropout)
        )

    @property
    def output_size(self) -> int:
        """Size of each step's recurrent output, ``D * H``."""
        return self.num_directions * self.config.hidden_size

    def read(self, inputs: Tensor, lengths: Tensor) -> Tensor:
        """``inputs`` (``LongTensor (B, T)`` or ``FloatTensor (B, T, C)``) and ``lengths (B,)`` to the
        recurrent outputs ``(B, T, D*H)``, zero at padded steps."""
        check_lengths(lengths, inputs.size(0), inputs.size(1))
        x = self.dropout(self.input(inputs))  # (B, T, E or C)
        h, _ = run_padded(self.rnn, x, lengths)  # (B, T, D*H)
        return h
