"""The generate adapter: conditions from every split, unknown conditions named."""

from __future__ import annotations

import pytest

from rnnkit.data import GenerationExample
from rnnkit.tasks import GenerateOptions, GenerateTask
from rnnkit.tasks.splits import Splits

TRAIN = (GenerationExample("a", tuple("abc")), GenerationExample("b", tuple("b a")))
TEST = (GenerationExample("c", tuple("cab")),)


def test_conditions_and_joiner():
    task = GenerateTask(GenerateOptions(batch_size=2, min_freq=1))
    task.fit(Splits("gen.txt", False, "generation", TRAIN, None, TEST, tokenizer="chars"))
    assert task.vocab("conditions").symbols == ["a", "b", "c"] and task.fitted["joiner"] == ""
    model = task.build_model({"hidden_size": 4, "embedding_dim": 4})
    assert task.evaluate(model, TEST)["tokens"] == 4  # three symbols and the end
    assert len(task.generate(model, condition="c", length=5, num=3)) == 3
    with pytest.raises(ValueError, match="unknown condition 'z'"):
        task.generate(model, condition="z")
