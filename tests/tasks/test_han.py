"""The han adapter on a tiny slice of BBC News read as sentences."""

from __future__ import annotations

from rnnkit.tasks import HANOptions, HANTask
from rnnkit.tasks.splits import read_splits


def test_documents_are_cut_and_predicted():
    splits = read_splits("builtin:bbc-news", "han", limit=6)
    task = HANTask(HANOptions(batch_size=3, max_sentences=4, max_words=6, min_freq=1))
    task.fit(splits)
    model = task.build_model({"embedding_dim": 4, "word_hidden_size": 3, "sentence_hidden_size": 3})
    batch = next(iter(task.batches(splits.train, train=True).batches(0)))
    assert batch.docs.shape[1] <= 4 and batch.docs.shape[2] <= 6
    assert task.evaluate(model, splits.valid)["examples"] == 6
    (label,) = task.predict(model, ["Shares fell. Markets closed lower."])
    assert label in task.vocab("labels").symbols
