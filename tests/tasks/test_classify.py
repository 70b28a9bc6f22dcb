"""The classify adapter on words and on real-valued series."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.data import ClassificationExample, SeriesExample
from rnnkit.tasks import ClassifyOptions, ClassifyTask, TaskError
from rnnkit.tasks.splits import Splits, read_splits


def test_series_are_standardized_with_training_statistics():
    rng = np.random.default_rng(0)
    train = tuple(SeriesExample((5 + 2 * rng.standard_normal((6, 3))).astype(np.float32), str(i % 2)) for i in range(8))
    task = ClassifyTask(ClassifyOptions(batch_size=4))
    task.fit(Splits("series.ts", False, "series-classification", train))
    assert task.series and task.fitted["channels"] == 3
    config = task.model_config({"hidden_size": 4})
    assert config.input_size == 3 and config.vocab_size is None and config.num_outputs == 2
    batch = next(iter(task.batches(train, train=False).batches(0)))
    values = batch.series[batch.mask]  # (N, C) real steps only
    assert values.mean(0).abs().max() < 1e-5 and (values.std(0, unbiased=False) - 1).abs().max() < 1e-4
    model = task.build_model({"hidden_size": 4})
    assert list(task.predict(model, ["1,2,3;4,5,6"]))[0] in ("0", "1")
    with pytest.raises(ValueError, match="input line 1: every step needs 3"):
        list(task.predict(model, ["1,2;3,4"]))


def test_labels_come_from_the_whole_data_set_not_the_slice():
    splits = read_splits("builtin:bbc-news", "classify", limit=5)
    task = ClassifyTask()
    task.fit(splits)
    assert task.vocab("labels").symbols == ["business", "entertainment", "politics", "sports", "tech"]
    assert task.fitted["tokenizer"] == "lower_words"


def test_step_and_evaluate_agree_on_accuracy():
    train = tuple(ClassificationExample(tuple(t.split()), label) for t, label in
                  [("good fun", "pos"), ("bad dull", "neg"), ("fun good good", "pos"), ("dull", "neg")])
    task = ClassifyTask(ClassifyOptions(batch_size=4, min_freq=1))
    task.fit(Splits("toy", False, "classification", train, tokenizer="spaces"))
    model = task.build_model({"hidden_size": 4, "embedding_dim": 4})
    batch = next(iter(task.batches(train, train=False).batches(0)))
    out = task.step(model, batch, None)
    metrics = task.evaluate(model, train)
    assert metrics["accuracy"] == pytest.approx(out.logs["accuracy"]) and metrics["examples"] == 4
    with pytest.raises(TaskError, match="1 labels the run was not trained on: 'meh'"):
        task.evaluate(model, (ClassificationExample(("fun",), "meh"),))
