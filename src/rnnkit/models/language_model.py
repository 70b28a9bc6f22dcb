"""Recurrent language model: many-to-many synchronous, each step predicting the next token (seed 004:
character prediction; text, music and code generation in seed 003).

.. math::

    h_t = \\mathrm{RNN}(E x_t, h_{t-1}), \\qquad
    p(x_{t+1} \\mid x_{\\le t}) = \\mathrm{softmax}(W_o\\, g(h_t) + b_o), \\qquad
    p(x_1..x_T) = \\prod_t p(x_{t+1} \\mid x_{\\le t})

trained by maximising the log-likelihood of the next token at every step (``rnnkit.losses.sequence_nll``
on ``logits[:, :-1]`` against ``tokens[:, 1:]``, or on inputs and targets shifted by the data loader).

**Weight tying** (Press & Wolf 2017, "Using the Output Embedding to Improve Language Models"; Inan et al.
2017): the output layer reuses the input embedding, ``W_o = E`` (``V x E``), which saves ``V x E``
parameters and regularises. It needs the output layer's input to have the embedding size, so when
``hidden_size != embedding_dim`` a projection ``g(h) = W_p h`` (``E x H``) comes first; otherwise
``g(h) = h``. The padding row of a tied embedding is also an output row and trains as one.

**State across calls**: ``forward(tokens, state)`` starts from ``state`` and returns the final state,
so a long text can be read in chunks (streaming, truncated backpropagation through time). The caller
detaches the state between chunks (:meth:`LanguageModel.detach_state`) to cut the gradient there.

Generation uses the decoding step contract (:mod:`rnnkit.decoding`): :meth:`start` (zero state) or
:meth:`prime` (read a prompt), then :meth:`step` and :meth:`reorder_state`.

Example::

    import torch
    from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
    model = LanguageModel(LanguageModelConfig(vocab_size=50, tie_weights=True))
    out = model(torch.randint(1, 50, (2, 8)))
    out2 = model(torch.randint(1, 50, (2, 8)), model.detach_state(out.state))  # the next chunk
    print(out.logits.shape)  # torch.Size([2, 8, 50])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from rnnkit.cells import map_state
from rnnkit.models.config_checks import check_padding_idx, check_positive, check_probability
from rnnkit.models.inputs import check_integer_tensor
from rnnkit.models.recurrence import (
    CellType,
    RecurrentOptions,
    State,
    check_lengths,
    recurrent_layer,
    run_padded,
    select_rows,
    zero_state,
)


@dataclass
class LanguageModelConfig(RecurrentOptions):
    vocab_size: int  # tokens (characters, words, ...), including padding and any special ids
    embedding_dim: int = 64  # token embedding size E
    hidden_size: int = 128  # recurrent state size H
    num_layers: int = 1  # stacked recurrent layers
    cell: CellType = "lstm"  # LSTM/GRU keep gradients alive over long contexts; "rnn" is the Elman baseline
    dropout: float = 0.0  # on embeddings, between stacked layers and before the output layer
    tie_weights: bool = False  # output layer reuses the input embedding (Press & Wolf 2017)
    padding_idx: int = 0  # token id of padding: its embedding row starts at zero

    def __post_init__(self) -> None:
        check_positive(self, "vocab_size", "embedding_dim", "hidden_size", "num_layers")
        self.check_recurrent_options()
        check_probability(self, "dropout")
        check_padding_idx(self, "vocab_size")


class LanguageModelOutput(NamedTuple):
    logits: Tensor  # (B, T, V): scores of the token after each position
    state: State  # (L, B, H) final state (a pair (h, c) for LSTM), at each example's last valid step


class LanguageModel(nn.Module):
    """``forward(tokens (B, T), state=None, lengths=None) -> LanguageModelOutput(logits (B, T, V), state)``.

    With ``lengths (B,)`` the padded batch is packed: padding never reaches the recurrence and the
    returned state is each example's own after its last valid token.
    """

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__()
        self.config = c = config
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim, padding_idx=c.padding_idx)  # E
        self.dropout = nn.Dropout(c.dropout)
        self.rnn = recurrent_layer(c.recurrent_config(c.embedding_dim, c.hidden_size, c.num_layers, False, c.dropout))
        needs_projection = c.tie_weights and c.hidden_size != c.embedding_dim
        self.projection = nn.Linear(c.hidden_size, c.embedding_dim, bias=False) if needs_projection else None  # W_p
        self.output = nn.Linear(c.embedding_dim if c.tie_weights else c.hidden_size, c.vocab_size)  # W_o, b_o
        if c.tie_weights:
            self.output.weight = self.embedding.weight  # one (V, E) parameter for both ends

    def forward(self, tokens: Tensor, state: State | None = None, lengths: Tensor | None = None) -> LanguageModelOutput:
        check_integer_tensor(tokens, "tokens", ("B", "T"))
        embedded = self.dropout(self.embedding(tokens))  # (B, T, E)
        if lengths is None:
            outputs, state = self.rnn(embedded, state)  # (B, T, H)
        else:
            check_lengths(lengths, tokens.size(0), tokens.size(1))
            outputs, state = run_padded(self.rnn, embedded, lengths, state)  # (B, T, H)
        return LanguageModelOutput(self._logits(outputs), state)

    def _logits(self, outputs: Tensor) -> Tensor:
        """``W_o g(h) + b_o`` for outputs ``(..., H)`` -> ``(..., V)``."""
        outputs = self.dropout(outputs)
        if self.projection is not None:
            outputs = self.projection(outputs)  # (..., E)
        return self.output(outputs)

    @staticmethod
    def detach_state(state: State) -> State:
        """The state cut from the graph that made it (truncated BPTT: no gradient into past chunks)."""
        return map_state(Tensor.detach, state)

    # Step contract ------------------------------------------------------------------------------------

    def start(self, batch_size: int) -> State:
        """Zero state for ``batch_size`` rows: generation from nothing (feed a begin-of-text id first)."""
        c = self.config
        return zero_state(c.cell, c.num_layers, batch_size, c.hidden_size, self.embedding.weight)  # (L, B, H)

    def prime(self, tokens: Tensor, lengths: Tensor | None = None) -> tuple[State, Tensor]:
        """Read prompts ``tokens (B, T)`` (``lengths (B,)`` for a padded batch) for generation.

        Returns the state after all but each prompt's last token, and those last tokens ``(B,)``: pass
        them as ``bos_id`` to :func:`rnnkit.decoding.greedy` and the like, whose first step reads them.
        """
        if lengths is None:
            lengths = torch.full((tokens.size(0),), tokens.size(1), dtype=torch.long, device=tokens.device)
        check_lengths(lengths, tokens.size(0), tokens.size(1))
        last = tokens.gather(1, (lengths - 1).unsqueeze(1).to(tokens.device)).squeeze(1)  # (B,)
        state = self.start(tokens.size(0))
        if tokens.size(1) > 1:
            read = (lengths - 1).clamp(min=1)  # prompts of one token read nothing: their state stays zero
            _, after = self.forward(tokens[:, :-1], lengths=read)
            empty = (lengths == 1).to(tokens.device).view(1, -1, 1)  # (1, B, 1)
            state = map_state(lambda zero, part: torch.where(empty, zero, part), state, after)
        return state, last

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """``tokens (N,)`` -> ``log_probs (N, V)`` of the next token, and the new state."""
        outputs, state = self.rnn(self.dropout(self.embedding(tokens)).unsqueeze(1), state)  # (N, 1, H)
        return torch.log_softmax(self._logits(outputs[:, 0]), dim=-1), state

    def reorder_state(self, state: State, index: Tensor) -> State:
        """Rows ``index (N',)`` of the ``(L, N, H)`` state (dim 1)."""
        return select_rows(state, index)

    @staticmethod
    def state_batch_size(state: State) -> int:
        return (state[0] if isinstance(state, tuple) else state).size(1)
