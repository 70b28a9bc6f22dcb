"""The recurrent layer of every model: a drop-in when no rnnkit option is set, ``Recurrent(cell)`` with the
options otherwise; the options reach the cells from each model's config; models give the same results on
either path (padding, step-by-step decoding, state carried across chunks)."""

from __future__ import annotations

import pytest
import torch

from rnnkit.cells import GRUCell, LSTMCell, LSTMState, MinimalGRUCell
from rnnkit.layers import GRU, LSTM, RNN, Recurrent
from rnnkit.models import (
    ConditionalGenerator,
    ConditionalGeneratorConfig,
    HANConfig,
    HierarchicalAttentionNetwork,
    LanguageModel,
    LanguageModelConfig,
    ReNetClassifier,
    ReNetClassifierConfig,
    Seq2Seq,
    Seq2SeqConfig,
    SequenceClassifier,
    SequenceClassifierConfig,
    SequenceTagger,
    SequenceTaggerConfig,
)
from rnnkit.models.recurrence import RecurrentConfig, recurrent_layer, select_rows

LSTM_OPTIONS = dict(cell="lstm", layer_norm=True, peephole=True, forget_bias=1.0, recurrent_dropout=0.2, zoneout=0.1)


@pytest.mark.parametrize("cell, layer", [("lstm", LSTM), ("gru", GRU), ("rnn", RNN)])
def test_no_option_gives_the_drop_in(cell, layer):
    built = recurrent_layer(RecurrentConfig(cell, 3, 4, num_layers=2, bidirectional=True, dropout=0.1))
    assert type(built) is layer
    assert (built.num_layers, built.bidirectional, built.batch_first, built.dropout) == (2, True, True, 0.1)


@pytest.mark.parametrize(
    "options, cell_class",
    [
        (dict(cell="minimal_gru"), MinimalGRUCell),
        (dict(cell="gru", zoneout=0.1), GRUCell),
        (dict(cell="lstm", recurrent_dropout=0.3), LSTMCell),
        (LSTM_OPTIONS, LSTMCell),
    ],
)
def test_an_option_gives_recurrent_around_the_cell(options, cell_class):
    built = recurrent_layer(RecurrentConfig(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, **options))
    assert type(built) is Recurrent and built.batch_first
    assert len(built.cells) == 4 and all(type(cell) is cell_class for cell in built.cells)
    assert built.recurrent_dropout == options.get("recurrent_dropout", 0.0)
    assert built.zoneout == (options.get("zoneout", 0.0),)
    if cell_class is LSTMCell:
        for cell in built.cells:
            assert cell.layer_norm == options.get("layer_norm", False)
            assert cell.peephole == options.get("peephole", False)
            assert cell.forget_bias == options.get("forget_bias")


def recurrent_layers(model: torch.nn.Module) -> list[torch.nn.Module]:
    return [m for m in model.modules() if isinstance(m, (Recurrent, LSTM, GRU, RNN))]


MODELS = [
    (SequenceClassifier, lambda **o: SequenceClassifierConfig(num_outputs=2, vocab_size=9, hidden_size=4, **o)),
    (SequenceTagger, lambda **o: SequenceTaggerConfig(num_tags=2, vocab_size=9, hidden_size=4, **o)),
    (LanguageModel, lambda **o: LanguageModelConfig(vocab_size=9, hidden_size=4, **o)),
    (ConditionalGenerator, lambda **o: ConditionalGeneratorConfig(vocab_size=9, num_labels=2, hidden_size=4, **o)),
    (Seq2Seq, lambda **o: Seq2SeqConfig(src_vocab_size=9, tgt_vocab_size=9, hidden_size=4, **o)),
    (HierarchicalAttentionNetwork, lambda **o: HANConfig(vocab_size=9, num_classes=2, **o)),
    (ReNetClassifier, lambda **o: ReNetClassifierConfig(in_channels=1, num_classes=2, hidden_sizes=(3,),
                                                        patch_sizes=(2,), **o)),
]


@pytest.mark.parametrize("model_class, make_config", MODELS)
def test_every_model_config_reaches_the_cell_options(model_class, make_config):
    plain = recurrent_layers(model_class(make_config(cell="lstm")))
    assert plain and all(isinstance(layer, LSTM) for layer in plain)
    layers = recurrent_layers(model_class(make_config(**LSTM_OPTIONS)))
    assert len(layers) == len(plain) and all(isinstance(layer, Recurrent) for layer in layers)
    for layer in layers:
        assert layer.zoneout == (0.1,) and layer.recurrent_dropout == 0.2
        assert all(cell.layer_norm and cell.peephole and cell.forget_bias == 1.0 for cell in layer.cells)


@pytest.mark.parametrize("model_class, make_config", MODELS)
def test_lstm_options_on_another_cell_are_reported(model_class, make_config):
    with pytest.raises(ValueError, match=r"layer_norm=True is an LSTM option, but cell='gru'"):
        make_config(cell="gru", layer_norm=True)
    with pytest.raises(ValueError, match=r"zoneout must be in \[0, 1\), got 1.5"):
        make_config(cell="gru", zoneout=1.5)
    with pytest.raises(ValueError, match="cell must be one of"):
        make_config(cell="tcn")


def test_options_train_a_tagger_and_padding_still_changes_nothing():
    config = SequenceTaggerConfig(num_tags=3, vocab_size=20, embedding_dim=6, hidden_size=5, num_layers=2,
                                  **LSTM_OPTIONS)
    model = SequenceTagger(config)
    tokens, lengths, tags = torch.randint(1, 20, (3, 8)), torch.tensor([3, 8, 5]), torch.randint(0, 3, (3, 8))
    loss = torch.nn.functional.cross_entropy(model(tokens, lengths).flatten(0, 1), tags.flatten())
    loss.backward()  # recurrent dropout and zoneout active in training
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)
    model.eval()
    logits = model(tokens, lengths)
    for b, n in enumerate(lengths.tolist()):
        alone = model(tokens[b : b + 1, :n], lengths[b : b + 1])
        torch.testing.assert_close(logits[b, :n], alone[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("options", [dict(cell="minimal_gru"), LSTM_OPTIONS])
def test_seq2seq_on_recurrent_decodes_step_by_step_as_teacher_forced(options):
    config = Seq2SeqConfig(src_vocab_size=12, tgt_vocab_size=10, embedding_dim=5, hidden_size=6, bidirectional=True,
                           encoder_layers=2, decoder_layers=2, attention="additive", input_feeding=False, **options)
    model = Seq2Seq(config).eval()
    src, lengths, tgt_in = torch.randint(1, 12, (3, 6)), torch.tensor([6, 2, 4]), torch.randint(1, 10, (3, 5))
    out = model(src, lengths, tgt_in)
    state = model.start(src, lengths)
    if options["cell"] == "lstm":
        assert isinstance(state.hidden, LSTMState)
    for t in range(tgt_in.size(1)):
        log_probs, state = model.step(tgt_in[:, t], state)
        torch.testing.assert_close(log_probs, torch.log_softmax(out.logits[:, t], -1), rtol=1e-5, atol=1e-5)
    state = model.reorder_state(state, torch.tensor([2, 0]))
    assert model.state_batch_size(state) == 2


@pytest.mark.parametrize("options", [dict(cell="minimal_gru"), LSTM_OPTIONS])
def test_language_model_on_recurrent_carries_state_and_primes(options):
    model = LanguageModel(LanguageModelConfig(vocab_size=11, embedding_dim=5, hidden_size=6, num_layers=2,
                                              **options)).eval()
    tokens = torch.randint(1, 11, (2, 9))
    whole = model(tokens)
    first = model(tokens[:, :4])
    second = model(tokens[:, 4:], model.detach_state(first.state))
    torch.testing.assert_close(torch.cat([first.logits, second.logits], 1), whole.logits, rtol=1e-5, atol=1e-5)
    state, last = model.prime(tokens, torch.tensor([9, 1]))
    log_probs, _ = model.step(last, state)
    torch.testing.assert_close(log_probs[0], torch.log_softmax(whole.logits[0, -1], -1), rtol=1e-5, atol=1e-5)


def test_select_rows_picks_and_duplicates_dim_1_of_every_state_part():
    state = LSTMState(torch.arange(12.0).view(2, 3, 2), -torch.arange(12.0).view(2, 3, 2))
    picked = select_rows(state, torch.tensor([2, 2, 0]))
    assert isinstance(picked, LSTMState) and picked.h.shape == (2, 3, 2)
    assert picked.h[1].tolist() == [[10.0, 11.0], [10.0, 11.0], [6.0, 7.0]]
    torch.testing.assert_close(picked.c, -picked.h, rtol=0, atol=0)
