"""One-to-many: a sequence generated from one input, a vector or a class label (image captioning's shape).

Seed 004's *one to many* topology. The condition ``v`` (a feature vector, or the embedding of a class
label) enters the decoder in one of the two ways seeds 002 and 004 describe for an encoder's context
``C``, or both:

.. math::

    c = v \\;\\text{or}\\; E_c[\\text{label}], \\qquad
    h_0 = \\tanh(W_0 c + b_0) \\;\\text{(initial\\_state)}, \\qquad
    x_t = [E y_{t-1}; c] \\;\\text{(input)}\\;\\text{or}\\; E y_{t-1}

.. math::

    h_t = \\mathrm{RNN}(x_t, h_{t-1}), \\qquad
    p(y_t \\mid y_{<t}, v) = \\mathrm{softmax}(W_o h_t + b_o)

``h_0`` covers every stacked layer (and an LSTM's cell state ``c_0`` too); without ``initial_state`` it is
zero. ``y_0`` is the begin-of-sequence token. Training is teacher-forced: :meth:`forward` reads the true
previous tokens ``y_0..y_{T-1}`` and returns the logits of ``y_1..y_T`` (seed 004). Generation feeds the
model its own outputs through the decoding step contract (:meth:`start`, :meth:`step`,
:meth:`reorder_state`), used by ``rnnkit.decoding``.

Example::

    import torch
    from rnnkit.models import ConditionalGenerator, ConditionalGeneratorConfig
    model = ConditionalGenerator(ConditionalGeneratorConfig(vocab_size=40, num_labels=5))
    logits = model(torch.tensor([0, 3]), torch.randint(1, 40, (2, 6)))  # labels, teacher-forced inputs
    log_probs, state = model.step(torch.tensor([1, 1]), model.start(torch.tensor([0, 3])))
    print(logits.shape, log_probs.shape)  # torch.Size([2, 6, 40]) torch.Size([2, 40])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.cells import LSTMState
from rnnkit.models.config_checks import (
    check_choice,
    check_exactly_one,
    check_padding_idx,
    check_positive,
    check_positive_or_none,
    check_probability,
)
from rnnkit.models.inputs import check_integer_tensor
from rnnkit.models.recurrence import CellType, RecurrentOptions, State, recurrent_layer, select_rows, zero_state

ConditionAs = Literal["initial_state", "input", "both"]
CONDITION_AS: tuple[str, ...] = ("initial_state", "input", "both")


@dataclass
class ConditionalGeneratorConfig(RecurrentOptions):
    vocab_size: int  # output tokens, including the begin/end-of-sequence and padding ids
    condition_size: int | None = None  # vector condition: its size (e.g. an image's features); None for labels
    num_labels: int | None = None  # class-label condition: number of labels; None for a vector condition
    label_embedding_dim: int = 32  # size of a label's embedding E_c (label condition only)
    condition_as: ConditionAs = "both"  # initial state only keeps the decoder small; every step stops it forgetting
    embedding_dim: int = 64  # token embedding size
    hidden_size: int = 128  # recurrent state size
    num_layers: int = 1  # stacked recurrent layers
    cell: CellType = "lstm"  # LSTM/GRU keep the condition alive over long outputs; "rnn" is the Elman baseline
    dropout: float = 0.0  # on the embeddings, between stacked layers and before the output layer
    padding_idx: int = 0  # token id of padding: its embedding row stays zero

    def __post_init__(self) -> None:
        check_exactly_one(self, "condition_size", "num_labels")
        check_positive(self, "vocab_size", "label_embedding_dim", "embedding_dim", "hidden_size", "num_layers")
        check_positive_or_none(self, "condition_size", "num_labels")
        check_choice(self, "condition_as", CONDITION_AS)
        self.check_recurrent_options()
        check_probability(self, "dropout")
        check_padding_idx(self, "vocab_size")


class GeneratorState(NamedTuple):
    hidden: State  # the recurrent layer's state (num_layers, N, H); for an LSTM the pair (h, c)
    condition: Tensor  # (N, Dc) the encoded condition c, fed at every step when condition_as is input/both


class ConditionalGenerator(nn.Module):
    """One-to-many RNN. ``forward(condition, tokens) -> logits (B, T, V)`` (teacher forcing);
    ``start(condition) -> state``, ``step(tokens (N,), state) -> (log_probs (N, V), state)``,
    ``reorder_state(state, index) -> state``, ``state_batch_size(state) -> N``.

    ``condition`` is ``FloatTensor (B, condition_size)`` or ``LongTensor (B,)`` of labels. The model is
    causal, so padding at the end of ``tokens`` never changes the logits of the steps before it.
    """

    def __init__(self, config: ConditionalGeneratorConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        if c.num_labels is not None:
            self.label_embedding = nn.Embedding(c.num_labels, c.label_embedding_dim)  # E_c
            self.condition_dim = c.label_embedding_dim
        else:
            self.label_embedding = None
            self.condition_dim = c.condition_size
        self.uses_initial_state = c.condition_as in ("initial_state", "both")
        self.uses_input = c.condition_as in ("input", "both")
        self.state_parts = 2 if c.cell == "lstm" else 1  # an LSTM's state is (h, c)
        self.embedding = nn.Embedding(c.vocab_size, c.embedding_dim, padding_idx=c.padding_idx)  # E
        self.dropout = nn.Dropout(c.dropout)
        input_size = c.embedding_dim + (self.condition_dim if self.uses_input else 0)
        self.rnn = recurrent_layer(c.recurrent_config(input_size, c.hidden_size, c.num_layers, False, c.dropout))
        self.init_state = (  # W_0, b_0: every layer's initial state (and cell state) from the condition
            nn.Linear(self.condition_dim, c.num_layers * self.state_parts * c.hidden_size)
            if self.uses_initial_state
            else None
        )
        self.output = nn.Linear(c.hidden_size, c.vocab_size)  # W_o, b_o

    def encode_condition(self, condition: Tensor) -> Tensor:
        """``c``: the vector itself, or the label's embedding. ``(B, Dc)``."""
        if self.label_embedding is not None:
            labels = self.config.num_labels
            check_integer_tensor(condition, "label condition", ("B",))
            if condition.numel() and (int(condition.min()) < 0 or int(condition.max()) >= labels):
                raise ValueError(f"condition labels must be in [0, {labels}), got {condition.tolist()}")
            return self.label_embedding(condition)  # (B, Dc)
        if condition.dim() != 2 or condition.size(1) != self.condition_dim or not condition.dtype.is_floating_point:
            raise ValueError(
                f"vector condition must be a float tensor (B, {self.condition_dim}), "
                f"got {condition.dtype} {tuple(condition.shape)}"
            )
        return condition

    def start(self, condition: Tensor) -> GeneratorState:
        """The decoding state before the first token: ``h_0`` from the condition (or zeros), and ``c``."""
        c = self.encode_condition(condition)
        return GeneratorState(self._initial_hidden(c), c)

    def forward(self, condition: Tensor, tokens: Tensor) -> Tensor:
        """Teacher-forced logits ``(B, T, V)``: row ``t`` scores ``y_{t+1}`` given ``tokens[:, :t+1]``."""
        check_integer_tensor(tokens, "tokens", ("B", "T"))
        state = self.start(condition)
        if state.condition.size(0) != tokens.size(0):
            raise ValueError(f"condition has batch {state.condition.size(0)} but tokens have batch {tokens.size(0)}")
        h, _ = self.rnn(self._inputs(tokens, state.condition), state.hidden)  # (B, T, H)
        return self.output(self.dropout(h))  # (B, T, V)

    def step(self, tokens: Tensor, state: GeneratorState) -> tuple[Tensor, GeneratorState]:
        """One decoding step: ``tokens (N,)`` are ``y_{t-1}``; returns ``log p(y_t | ...) (N, V)``."""
        h, hidden = self.rnn(self._inputs(tokens.unsqueeze(1), state.condition), state.hidden)  # (N, 1, H)
        log_probs = F.log_softmax(self.output(self.dropout(h.squeeze(1))), dim=-1)  # (N, V)
        return log_probs, GeneratorState(hidden, state.condition)

    def state_batch_size(self, state: GeneratorState) -> int:
        """Rows ``N`` of a decoding state (the hidden state's dim 0 is the layer, not the row)."""
        return state.condition.size(0)

    def reorder_state(self, state: GeneratorState, index: Tensor) -> GeneratorState:
        """Select (and duplicate) batch rows ``index (N',)`` of every state tensor, for beam search."""
        return GeneratorState(select_rows(state.hidden, index), state.condition.index_select(0, index))

    def _inputs(self, tokens: Tensor, c: Tensor) -> Tensor:
        x = self.dropout(self.embedding(tokens))  # (B, T, E)
        if self.uses_input:
            x = torch.cat([x, c.unsqueeze(1).expand(-1, x.size(1), -1)], dim=2)  # (B, T, E + Dc)
        return x

    def _initial_hidden(self, c: Tensor) -> State:
        cfg = self.config
        if self.init_state is None:
            return zero_state(cfg.cell, cfg.num_layers, c.size(0), cfg.hidden_size, c)  # (L, B, H)
        s = torch.tanh(self.init_state(c))  # (B, L * parts * H)
        s = s.view(c.size(0), cfg.num_layers, self.state_parts, cfg.hidden_size).permute(2, 1, 0, 3)  # (parts, L, B, H)
        return LSTMState(s[0].contiguous(), s[1].contiguous()) if self.state_parts == 2 else s[0].contiguous()
