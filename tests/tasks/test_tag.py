"""The tag adapter: masked tag loss, accuracy over real tokens, predictions never <pad>."""

from __future__ import annotations

from rnnkit.data import TaggingExample
from rnnkit.tasks import TagOptions, TagTask
from rnnkit.tasks.splits import Splits

EXAMPLES = (
    TaggingExample(("the", "cat", "sat"), ("DET", "NOUN", "VERB")),
    TaggingExample(("a", "dog"), ("DET", "NOUN")),
)


def test_tags_keep_pad_first_and_predictions_never_use_it():
    task = TagTask(TagOptions(batch_size=2))
    task.fit(Splits("tags.txt", False, "tagging", EXAMPLES, tokenizer="spaces"))
    assert task.vocab("tags").symbols[0] == "<pad>" and task.fitted["tokenizer"] == "spaces"
    model = task.build_model({"hidden_size": 4, "embedding_dim": 4})
    batch = next(iter(task.batches(EXAMPLES, train=False).batches(0)))
    assert task.step(model, batch, None).weight == 5  # real tokens only
    assert task.evaluate(model, EXAMPLES)["tokens"] == 5
    (tags,) = task.predict(model, ["the dog sat"])
    assert len(tags.split()) == 3 and "<pad>" not in tags
