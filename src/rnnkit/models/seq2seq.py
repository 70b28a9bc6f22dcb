"""Encoder-decoder (seq2seq): many-to-many of different lengths (seed 004: translation, chat; seed 002).

The encoder reads the source ``x_1..x_S`` into outputs ``h_1..h_S`` and a final state; the decoder
generates ``y_1..y_T`` one token at a time, each step fed the previous target token (teacher forcing in
training) or its own previous prediction (when generating):

.. math::

    s_t = f(s_{t-1}, [e(y_{t-1});\\, C;\\, \\tilde h_{t-1}]), \\qquad
    p(y_t \\mid y_{<t}, x) = \\mathrm{softmax}(W_s o_t), \\qquad
    p(y \\mid x) = \\prod_t p(y_t \\mid y_{<t}, x)

where the bracketed parts are present according to the config:

- **Context C** (``context``), the three ways of seed 004: ``"last"`` takes the encoder's final state as
  it is (``C = h_S``); ``"transform"`` a learned ``C = tanh(W_C h_S + b_C)``; ``"mean"`` a learned
  transform of all the encoder's outputs, ``C = tanh(W_C \\frac{1}{S} \\sum_s h_s + b_C)`` over the valid
  positions, the same for every decoder layer (an LSTM's cell state from its own transform).
- **Where C goes** (``feed_context``): ``"init"`` makes it the decoder's initial state ``s_0``,
  ``"input"`` concatenates the top layer's ``C`` to every step's input, ``"both"`` does both. With
  ``"input"`` alone ``s_0 = 0``.
- **Bridge** from a bidirectional, multi-layer encoder to the decoder's state: per layer the two
  directions' final states are concatenated, ``[h_fwd; h_bwd]`` (``bridge="concat"``; with
  ``context="last"`` their size ``2 H_e`` must equal the decoder's), or summed, ``h_fwd + h_bwd``
  (``bridge="sum"``); ``context="transform"`` then maps the result to the decoder's size. Encoder layer
  ``l`` starts decoder layer ``l`` when both have as many layers; otherwise the encoder's top layer starts
  every decoder layer. An LSTM's cell state ``c`` goes through the same bridge with its own transform.
  ``context="mean"`` needs no bridge.
- **Attention** (``attention``: ``"dot"``, ``"general"``, ``"additive"``; Luong et al. 2015 global
  attention with the score functions of :mod:`rnnkit.attention`): at each step the decoder's top state
  ``s_t`` queries all encoder outputs (padding masked) for a context ``c_t``, and the output is the
  attentional vector ``o_t = \\tilde h_t = tanh(W_c [c_t; s_t])``; without attention ``o_t = s_t``. With
  ``input_feeding`` (Luong) ``\\tilde h_{t-1}`` joins the next step's input, so the decoder knows what it
  attended to before. The encoder outputs' key projection is computed once per source.

Decoding implements the step contract (:mod:`rnnkit.decoding`): ``start(src, src_lengths)`` encodes and
returns the initial :class:`Seq2SeqState`; ``step(tokens, state)``; ``reorder_state(state, index)``.

Example::

    import torch
    from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
    model = Seq2Seq(Seq2SeqConfig(src_vocab_size=30, tgt_vocab_size=40, attention="general"))
    out = model(torch.randint(3, 30, (2, 6)), torch.tensor([6, 4]), torch.randint(3, 40, (2, 5)))
    print(out.logits.shape, out.attention.shape)  # torch.Size([2, 5, 40]) torch.Size([2, 5, 6])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from rnnkit.attention import AdditiveAttention, Attention, DotAttention, GeneralAttention, lengths_to_mask
from rnnkit.cells import LSTMState
from rnnkit.models.config_checks import (
    check_choice,
    check_padding_idx,
    check_positive,
    check_positive_or_none,
    check_probability,
)
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

AttentionType = Literal["none", "dot", "general", "additive"]


@dataclass
class Seq2SeqConfig(RecurrentOptions):
    src_vocab_size: int  # rows of the source embedding
    tgt_vocab_size: int  # rows of the target embedding and size of the output softmax
    embedding_dim: int = 64  # source and target embedding size
    hidden_size: int = 128  # decoder state size (and the encoder's per direction unless set below)
    encoder_hidden_size: int | None = None  # encoder state size per direction; None: hidden_size
    cell: CellType = "lstm"  # LSTM/GRU keep gradients alive over long inputs; "rnn" is the Elman baseline
    encoder_layers: int = 1  # stacked encoder layers
    decoder_layers: int = 1  # stacked decoder layers
    bidirectional: bool = False  # encoder reads both ways: each output sees the whole source
    bridge: Literal["concat", "sum"] = "concat"  # combining the two directions' final states (see docstring)
    context: Literal["last", "transform", "mean"] = "transform"  # C = h_S, tanh(W_C h_S + b), tanh(W_C mean_s h_s + b)
    feed_context: Literal["init", "input", "both"] = "init"  # C as the initial state, every step's input, or both
    attention: AttentionType = "none"  # score function of per-step attention over all encoder outputs
    attention_size: int | None = None  # hidden size of additive attention; None: hidden_size
    input_feeding: bool = True  # with attention: feed the previous attentional vector back in (Luong)
    dropout: float = 0.0  # on embeddings, between stacked layers and before the output layer
    padding_idx: int = 0  # token id of padding in both vocabularies: its embedding row stays zero

    def __post_init__(self) -> None:
        check_positive(self, "src_vocab_size", "tgt_vocab_size", "embedding_dim", "hidden_size")
        check_positive(self, "encoder_layers", "decoder_layers")
        check_positive_or_none(self, "encoder_hidden_size", "attention_size")
        self.check_recurrent_options()
        check_choice(self, "bridge", ("concat", "sum"))
        check_choice(self, "context", ("last", "transform", "mean"))
        check_choice(self, "feed_context", ("init", "input", "both"))
        check_choice(self, "attention", ("none", "dot", "general", "additive"))
        check_probability(self, "dropout")
        check_padding_idx(self, "src_vocab_size", "tgt_vocab_size")
        if self.context == "last" and self.feed_context != "input" and self.final_state_size != self.hidden_size:
            raise ValueError(
                f"Seq2SeqConfig: context='last' as the decoder's initial state needs the encoder's combined final "
                f"state size ({self.final_state_size}) to equal hidden_size ({self.hidden_size}); "
                "use context='transform', bridge='sum' or matching sizes"
            )
        if self.attention == "dot" and self.memory_size != self.hidden_size:
            raise ValueError(
                f"Seq2SeqConfig: attention='dot' needs encoder outputs ({self.memory_size}) and decoder states "
                f"({self.hidden_size}) of one size; use attention='general' or 'additive'"
            )

    @property
    def encoder_size(self) -> int:
        """Encoder state size per direction, ``H_e``."""
        return self.hidden_size if self.encoder_hidden_size is None else self.encoder_hidden_size

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def memory_size(self) -> int:
        """Size of each encoder output (attention's keys and values): ``D * H_e``."""
        return self.directions * self.encoder_size

    @property
    def final_state_size(self) -> int:
        """Size of a final state after the bridge has combined the directions."""
        return self.memory_size if self.bridge == "concat" else self.encoder_size

    @property
    def context_size(self) -> int:
        return self.final_state_size if self.context == "last" else self.hidden_size


class Seq2SeqOutput(NamedTuple):
    logits: Tensor  # (B, T, V): unnormalised scores of each target step
    attention: Tensor | None  # (B, T, S): alignment of each target step over the source; None without attention


class Seq2SeqState(NamedTuple):
    """Decoding state; every tensor's rows are hypotheses (``N``), in dim 0 except ``hidden``'s dim 1."""

    mask: Tensor  # (N, S) bool: valid source positions
    memory: Tensor | None  # (N, S, D*H_e): encoder outputs (attention's keys and values)
    projected_keys: Tensor | None  # (N, S, ·): attention's key projection, computed once per source
    hidden: State  # (L_d, N, H) decoder state; a pair (h, c) for LSTM
    context: Tensor | None  # (N, Hc): the fixed context C fed at every step (feed_context "input"/"both")
    feed: Tensor | None  # (N, H): previous attentional vector (input feeding)


class Seq2Seq(nn.Module):
    """Encoder-decoder with optional attention. ``forward(src (B, S), src_lengths (B,), tgt_in (B, T),
    teacher_forcing=1.0) -> Seq2SeqOutput(logits (B, T, V), attention (B, T, S) | None)``.

    ``tgt_in`` is the decoder input: BOS then the target without its last token (``tgt_out`` shifted
    right); padding after a target's end is harmless (the decoder is causal; mask it in the loss).
    ``teacher_forcing`` < 1 is scheduled sampling (Bengio et al. 2015): at each step after the first,
    each example is fed its own previous prediction (argmax, no gradient) with probability
    ``1 - teacher_forcing`` instead of the true previous token. That path, and input feeding, run the
    decoder one step per call, so ``recurrent_dropout`` draws a new decoder mask at each step there.
    """

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = c = config
        self.src_embedding = nn.Embedding(c.src_vocab_size, c.embedding_dim, padding_idx=c.padding_idx)
        self.tgt_embedding = nn.Embedding(c.tgt_vocab_size, c.embedding_dim, padding_idx=c.padding_idx)
        self.dropout = nn.Dropout(c.dropout)
        self.encoder = recurrent_layer(
            c.recurrent_config(c.embedding_dim, c.encoder_size, c.encoder_layers, c.bidirectional, c.dropout)
        )
        self.uses_init = c.feed_context in ("init", "both")
        self.uses_input_context = c.feed_context in ("input", "both")
        self.input_feeding = c.attention != "none" and c.input_feeding
        transform = c.context != "last"
        summary = c.memory_size if c.context == "mean" else c.final_state_size  # what W_C reads
        self.transform_h = nn.Linear(summary, c.hidden_size) if transform else None  # W_C, b_C
        # The cell state only matters when C starts the decoder.
        lstm_init = c.cell == "lstm" and self.uses_init
        self.transform_c = nn.Linear(summary, c.hidden_size) if transform and lstm_init else None
        decoder_input = (
            c.embedding_dim
            + (c.context_size if self.uses_input_context else 0)
            + (c.hidden_size if self.input_feeding else 0)
        )
        decoder = c.recurrent_config(decoder_input, c.hidden_size, c.decoder_layers, False, c.dropout)
        self.decoder = recurrent_layer(decoder)
        self.attention = self._make_attention(c)
        if self.attention is not None:
            self.combine = nn.Linear(c.memory_size + c.hidden_size, c.hidden_size, bias=False)  # W_c
        self.output = nn.Linear(c.hidden_size, c.tgt_vocab_size)  # W_s

    @staticmethod
    def _make_attention(c: Seq2SeqConfig) -> Attention | None:
        if c.attention == "dot":
            return DotAttention(c.hidden_size)
        if c.attention == "general":
            return GeneralAttention(c.hidden_size, c.memory_size)
        if c.attention == "additive":
            return AdditiveAttention(c.hidden_size, c.memory_size, c.attention_size or c.hidden_size)
        return None

    # Encoder and bridge -------------------------------------------------------------------------------

    def start(self, src: Tensor, src_lengths: Tensor) -> Seq2SeqState:
        """Encode ``src (B, S)`` with ``src_lengths (B,)``; the decoder's initial state."""
        check_integer_tensor(src, "src", ("B", "S"))
        check_lengths(src_lengths, src.size(0), src.size(1), "src_lengths")
        embedded = self.dropout(self.src_embedding(src))  # (B, S, E)
        memory, final = run_padded(self.encoder, embedded, src_lengths)  # (B, S, D*H_e)
        mask = lengths_to_mask(src_lengths.to(src.device), src.size(1))  # (B, S)
        h, cell = self._context(memory, final, src_lengths)  # (L_d, B, Hc) each
        context = h[-1] if self.uses_input_context else None  # (B, Hc): the top layer's C
        if self.uses_init:
            hidden: State = h if cell is None else LSTMState(h, cell)
        else:
            hidden = zero_state(self.config.cell, self.config.decoder_layers, src.size(0), self.config.hidden_size,
                                embedded)
        feed = embedded.new_zeros(src.size(0), self.config.hidden_size) if self.input_feeding else None
        if self.attention is None:
            return Seq2SeqState(mask, None, None, hidden, context, feed)
        return Seq2SeqState(mask, memory, self.attention.project_keys(memory), hidden, context, feed)

    def _context(self, memory: Tensor, final: State, src_lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        """C for every decoder layer ``(L_d, B, Hc)``, and an LSTM's initial cell state (None otherwise)."""
        final_h, final_c = final if isinstance(final, tuple) else (final, None)
        if self.config.context != "mean":
            cell = None if final_c is None or not self.uses_init else self._bridge(final_c, self.transform_c)
            return self._bridge(final_h, self.transform_h), cell
        # the outputs are exactly zero at padded steps, so the sum runs over the valid ones
        mean = memory.sum(1) / src_lengths.to(memory).unsqueeze(1)  # (B, D*H_e)
        layers = self.config.decoder_layers

        def every_layer(transform: nn.Linear) -> Tensor:
            return torch.tanh(transform(mean)).expand(layers, -1, -1).contiguous()  # (L_d, B, H)

        return every_layer(self.transform_h), None if self.transform_c is None else every_layer(self.transform_c)

    def _bridge(self, final: Tensor, transform: nn.Linear | None) -> Tensor:
        """Encoder final states ``(L_e * D, B, H_e)`` -> decoder layers' C ``(L_d, B, Hc)``."""
        c = self.config
        per_direction = final.view(c.encoder_layers, c.directions, final.size(1), c.encoder_size)  # (L_e, D, B, H_e)
        if c.bridge == "concat":
            combined = torch.cat(per_direction.unbind(1), dim=-1)  # (L_e, B, D*H_e)
        else:
            combined = per_direction.sum(1)  # (L_e, B, H_e)
        if c.encoder_layers != c.decoder_layers:
            combined = combined[-1:].expand(c.decoder_layers, -1, -1)  # (L_d, B, ·): top layer for all
        if transform is not None:
            combined = torch.tanh(transform(combined))  # (L_d, B, H)
        return combined.contiguous()

    # Decoder ------------------------------------------------------------------------------------------

    def _step_input(self, embedded: Tensor, state: Seq2SeqState) -> Tensor:
        """``[e(y_{t-1}); C; h~_{t-1}]`` for one step: ``(B, E)`` -> ``(B, I)``."""
        parts = [embedded]
        if state.context is not None:
            parts.append(state.context)
        if state.feed is not None:
            parts.append(state.feed)
        return torch.cat(parts, dim=-1)

    def _attend(self, top: Tensor, state: Seq2SeqState) -> tuple[Tensor, Tensor | None]:
        """Output vectors ``o (B, [T,] H)`` and attention weights ``(B, [T,] S)`` from top decoder states
        ``s (B, [T,] H)``: one step, or all steps of a teacher-forced pass at once."""
        if self.attention is None:
            return top, None
        context, weights = self.attention(top, state.memory, state.mask, projected_keys=state.projected_keys)
        attentional = torch.tanh(self.combine(torch.cat([context, top], dim=-1)))  # h~_t = tanh(W_c [c_t; s_t])
        return attentional, weights

    def _decode_step(self, tokens: Tensor, state: Seq2SeqState) -> tuple[Tensor, Tensor | None, Seq2SeqState]:
        """One decoder step: ``tokens (B,)`` -> ``logits (B, V)``, weights ``(B, S)`` or None, new state."""
        embedded = self.dropout(self.tgt_embedding(tokens))  # (B, E)
        x = self._step_input(embedded, state).unsqueeze(1)  # (B, 1, I)
        out, hidden = self.decoder(x, state.hidden)  # (B, 1, H)
        vector, weights = self._attend(out[:, 0], state)  # (B, H)
        logits = self.output(self.dropout(vector))  # (B, V)
        feed = vector if self.input_feeding else None
        return logits, weights, state._replace(hidden=hidden, feed=feed)

    def forward(self, src: Tensor, src_lengths: Tensor, tgt_in: Tensor, teacher_forcing: float = 1.0) -> Seq2SeqOutput:
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be in [0, 1], got {teacher_forcing}")
        if tgt_in.dim() != 2 or tgt_in.size(0) != src.size(0) or tgt_in.dtype.is_floating_point:
            raise ValueError(
                f"tgt_in must be an integer tensor ({src.size(0)}, T), got {tgt_in.dtype} {tuple(tgt_in.shape)}"
            )
        state = self.start(src, src_lengths)
        if teacher_forcing == 1.0 and not self.input_feeding:
            return self._teacher_forced(tgt_in, state)
        steps, alignments = [], []
        tokens = tgt_in[:, 0]
        for t in range(tgt_in.size(1)):
            if t > 0:
                tokens = tgt_in[:, t]
                if teacher_forcing < 1.0:
                    own = torch.rand(tokens.shape, device=tokens.device) >= teacher_forcing  # (B,)
                    tokens = torch.where(own, steps[-1].detach().argmax(-1), tokens)
            logits, weights, state = self._decode_step(tokens, state)
            steps.append(logits)
            alignments.append(weights)
        attention = torch.stack(alignments, 1) if self.attention is not None else None  # (B, T, S)
        return Seq2SeqOutput(torch.stack(steps, 1), attention)  # (B, T, V)

    def _teacher_forced(self, tgt_in: Tensor, state: Seq2SeqState) -> Seq2SeqOutput:
        """All steps at once: the decoder's input does not depend on its outputs (no input feeding)."""
        embedded = self.dropout(self.tgt_embedding(tgt_in))  # (B, T, E)
        if state.context is not None:
            context = state.context.unsqueeze(1).expand(-1, tgt_in.size(1), -1)  # (B, T, Hc)
            embedded = torch.cat([embedded, context], dim=-1)  # (B, T, E + Hc)
        tops, _ = self.decoder(embedded, state.hidden)  # (B, T, H)
        vectors, weights = self._attend(tops, state)  # (B, T, H), (B, T, S)
        return Seq2SeqOutput(self.output(self.dropout(vectors)), weights)

    # Step contract ------------------------------------------------------------------------------------

    def step(self, tokens: Tensor, state: Seq2SeqState) -> tuple[Tensor, Seq2SeqState]:
        """``tokens (N,)`` -> ``log_probs (N, V)`` of the next token, and the new state."""
        logits, _, state = self._decode_step(tokens, state)
        return torch.log_softmax(logits, dim=-1), state

    def reorder_state(self, state: Seq2SeqState, index: Tensor) -> Seq2SeqState:
        """Rows ``index (N',)`` of every tensor in ``state`` (dim 1 of the decoder's ``(L, N, H)`` state)."""

        def rows(x: Tensor | None) -> Tensor | None:
            return None if x is None else x.index_select(0, index)

        return Seq2SeqState(
            rows(state.mask), rows(state.memory), rows(state.projected_keys), select_rows(state.hidden, index),
            rows(state.context), rows(state.feed),
        )

    @staticmethod
    def state_batch_size(state: Seq2SeqState) -> int:
        return state.mask.size(0)
