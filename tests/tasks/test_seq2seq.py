"""The seq2seq adapter: vocabularies, the step the trainer calls, multi-reference error rates, prediction."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data import Seq2SeqExample
from rnnkit.tasks import Seq2SeqOptions, Seq2SeqTask
from rnnkit.tasks.splits import Splits

PAIRS = [("read", "R IY D"), ("read", "R EH D"), ("cat", "K AE T"), ("at", "AE T"), ("tea", "T IY")]
EXAMPLES = tuple(Seq2SeqExample(tuple(w), tuple(p.split())) for w, p in PAIRS)


def fitted(**options) -> Seq2SeqTask:
    task = Seq2SeqTask(Seq2SeqOptions(batch_size=2, **options))
    task.fit(Splits("cmudict", True, "seq2seq", EXAMPLES, EXAMPLES, EXAMPLES, tokenizer="lower_chars",
                    target_tokenizer="spaces"))
    return task


def test_fit_builds_both_vocabularies_and_the_decoding_length():
    task = fitted()
    assert "K" in task.vocab("tgt") and "c" in task.vocab("src")
    assert task.fitted["tokenizer"] == "lower_chars" and task.fitted["joiner"] == " "
    assert task.fitted["max_output_len"] == int(1.5 * 3) + 5
    config = task.model_config({"hidden_size": 8, "embedding_dim": 4})
    assert config.src_vocab_size == len(task.vocab("src")) and config.attention == "general"
    with pytest.raises(ValueError, match="set from the data"):
        task.model_config({"tgt_vocab_size": 3})


def test_step_weights_the_mean_token_loss_by_the_target_tokens():
    task = fitted()
    model = task.build_model({"hidden_size": 8, "embedding_dim": 4})
    batch = next(iter(task.batches(EXAMPLES, train=True).batches(0)))
    out = task.step(model, batch, None, teacher_forcing=0.5)
    assert out.loss.requires_grad and out.carry is None
    assert out.weight == float(batch.tgt_mask.sum())
    assert 0.0 <= out.logs["token_accuracy"] <= 1.0


def test_evaluate_accepts_any_reference_of_a_source(monkeypatch):
    task = fitted()
    outputs = {("r", "e", "a", "d"): ["R", "EH", "D"], ("c", "a", "t"): ["K", "AE", "T"], ("a", "t"): ["AE"],
               ("t", "e", "a"): ["T", "IY"]}
    monkeypatch.setattr(task, "translate", lambda model, sources, **kw: [[outputs[s]] for s in sources])
    metrics = task.evaluate(None, EXAMPLES)
    assert metrics["sources"] == 4  # "read" once, with two right answers
    assert metrics["sequence_error_rate"] == pytest.approx(1 / 4)  # only "at" is wrong
    assert metrics["token_error_rate"] == pytest.approx(1 / (3 + 3 + 2 + 2))  # one deletion


def test_a_model_that_learned_the_pairs_predicts_them():
    torch.manual_seed(0)
    task = fitted(beam_size=1)
    model = task.build_model({"hidden_size": 32, "embedding_dim": 16, "attention": "general"})
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    source = task.batches(EXAMPLES[2:], train=True)
    for epoch in range(60):
        for batch in source.batches(epoch):
            optimizer.zero_grad()
            task.step(model, batch, None).loss.backward()
            optimizer.step()
    assert list(task.predict(model, ["Cat", "tea"])) == ["K AE T", "T IY"]
    beams = list(task.predict(model, ["cat"], beam_size=3, n_best=2))[0].split("\t")
    assert beams[0] == "K AE T" and len(beams) == 2
