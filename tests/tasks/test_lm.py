"""The lm adapter: the carry links consecutive chunks; perplexity; generation after a prime."""

from __future__ import annotations

import math

import torch

from rnnkit.tasks import LanguageModelOptions, LanguageModelTask
from rnnkit.tasks.splits import Splits

TEXT = "to be or not to be\nthat is the question\n" * 20


def fitted() -> tuple[LanguageModelTask, torch.nn.Module]:
    task = LanguageModelTask(LanguageModelOptions(batch_size=2, bptt=8))
    task.fit(Splits("play.txt", False, "language-model", TEXT, TEXT, tokenizer="chars"))
    return task, task.build_model({"hidden_size": 8, "embedding_dim": 4})


def test_the_carry_is_the_state_the_next_chunk_starts_from():
    task, model = fitted()
    first, second = list(task.batches(TEXT, train=True).batches(0))[:2]
    out = task.step(model, first, None)
    assert out.carry is not None and out.weight == 16
    with torch.no_grad():
        carried = task.step(model, second, out.carry).loss
        fresh = task.step(model, second, None).loss
    assert not torch.equal(carried, fresh)  # the state reached across the chunk boundary


def test_perplexity_is_exp_of_the_mean_loss():
    task, model = fitted()
    metrics = task.evaluate(model, TEXT)
    assert math.isclose(metrics["perplexity"], math.exp(metrics["loss"]))
    assert metrics["perplexity"] < len(task.vocab("tokens")) * 1.5  # an untrained model is near uniform


def test_generation_starts_with_the_prime_and_is_reproducible():
    task, model = fitted()
    a = task.generate(model, prime="to be", length=10, num=2, seed=1)
    assert a == task.generate(model, prime="to be", length=10, num=2, seed=1)
    assert all(s.startswith("to be") for s in a)
    assert len(list(task.predict(model, ["that is"]))) == 1
