"""classify: one label per sequence (many-to-one), for token sequences or real-valued series.

Token input (``builtin:bbc-news``: an article's words; a CSV or TSV file of text and label) is
embedded; a real-valued series (``builtin:japanese-vowels``: 12 channels a step; a numeric CSV file, a
folder of them, or a ``.ts`` file) enters as it is, standardized per channel with the
training split's mean and standard deviation (saved with the task, so prediction scales alike). The loss
is the softmax cross-entropy of the labels; evaluation reports the accuracy.

Prediction reads one example a line: text, or a series written as steps separated by ``;`` and the
channels of a step by ``,`` (``0.1,0.3;0.2,0.5`` is two steps of two channels).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.data import SeriesExample, Vocab, channel_stats, classification_source, get_tokenizer, series_source
from rnnkit.metrics import accuracy
from rnnkit.models import SequenceClassifier, SequenceClassifierConfig
from rnnkit.tasks.base import TaskAdapter, TaskOptions
from rnnkit.tasks.errors import TaskError
from rnnkit.tasks.splits import Splits
from rnnkit.training.task import StepOutput


@dataclass
class ClassifyOptions(TaskOptions):
    """Options of the classify task."""

    max_len: int | None = 400  # read at most this many tokens of each text (long articles cost time, add little)
    min_freq: int = 2  # a word seen fewer times in training maps to <unk> (rare words overfit)
    max_vocab: int | None = 30_000  # keep at most this many words; None: all
    standardize: bool = True  # series: scale each channel to zero mean and unit variance (training statistics)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least(1, "max_len", optional=True)
        self.check_at_least(1, "min_freq")


def class_names(splits: Splits) -> Vocab:
    """The label vocabulary: the data set's class list, else every label seen in any split."""
    labels = splits.labels or {e.label for part in splits.present() for e in part}
    return Vocab.for_labels(labels)


def classification_step(logits: torch.Tensor, labels: torch.Tensor) -> StepOutput:
    """Cross-entropy and accuracy of ``logits (B, C)`` against ``labels (B,)``, weighted by B."""
    loss = F.cross_entropy(logits, labels)
    return StepOutput(loss, {"accuracy": accuracy(logits.detach(), labels)}, None, weight=float(labels.numel()))


class LabelTask(TaskAdapter):
    """What the tasks with one label per input (classify, han) share: accuracy over examples."""

    metric_names = ("accuracy", "loss")

    def evaluate(self, model: nn.Module, examples: Sequence[Any], **options: Any) -> dict[str, float]:
        """Accuracy and mean loss over ``examples`` (the adapter's evaluation batches and step)."""
        self.refuse_options(options)
        means, count = self.mean_over(model, self.batches(examples, train=False))
        return {"accuracy": means["accuracy"], "loss": means["loss"], "examples": count}


class ClassifyTask(LabelTask):
    """Sequence classification (:class:`rnnkit.models.SequenceClassifier`)."""

    name = "classify"
    summary = "one label per text or real-valued series (bbc-news, japanese-vowels; CSV/TSV, numeric CSV): accuracy"
    options_class = ClassifyOptions
    model_class = SequenceClassifier
    model_config_class = SequenceClassifierConfig
    derived_fields = ("num_outputs", "vocab_size", "input_size", "padding_idx", "task")
    model_defaults = {"cell": "gru", "bidirectional": True, "pooling": "attention", "hidden_size": 128}
    default_data = "builtin:bbc-news"
    options: ClassifyOptions

    @property
    def series(self) -> bool:
        return self.fitted.get("input") == "series"

    def fit(self, splits: Splits) -> None:
        o = self.options
        self.vocabs["labels"] = class_names(splits)
        if isinstance(splits.train[0], SeriesExample):
            self.fitted["input"] = "series"
            self.fitted["channels"] = int(np.asarray(splits.train[0].values).shape[1])
            if o.standardize:
                mean, std = channel_stats(splits.train)
                self.fitted["mean"], self.fitted["std"] = mean.tolist(), std.tolist()
        else:
            self.fitted["input"] = "tokens"
            self.fitted["tokenizer"] = self.tokenizer_for(splits)
            self.vocabs["tokens"] = Vocab.build(
                (e.tokens[: o.max_len] for e in splits.train), min_freq=o.min_freq, max_size=o.max_vocab
            )

    def derived_config(self) -> dict[str, Any]:
        return {
            "num_outputs": len(self.vocab("labels")),
            "vocab_size": None if self.series else len(self.vocab("tokens")),
            "input_size": self.fitted["channels"] if self.series else None,
            "padding_idx": 0,
            "task": "classification",
        }

    def batches(self, examples: Sequence[Any], *, train: bool, seed: int = 0) -> Any:
        o = self.options
        size = o.batch_size if train else o.eval_batch_size
        self.check_known("labels", (e.label for e in examples), "labels")
        if self.series:
            stats = {}
            if "mean" in self.fitted:
                stats = {key: np.asarray(self.fitted[key], np.float32) for key in ("mean", "std")}
            return series_source(examples, self.vocab("labels"), batch_size=size, seed=seed, shuffle=train, **stats)
        return classification_source(
            examples, self.vocab("tokens"), self.vocab("labels"),
            batch_size=size, seed=seed, shuffle=train, max_len=o.max_len,
        )

    def step(self, model: nn.Module, batch: Any, carry: Any) -> StepOutput:
        inputs = batch.series if self.series else batch.tokens
        return classification_step(model(inputs, batch.lengths).logits, batch.labels)

    @torch.no_grad()
    def predict(self, model: nn.Module, lines: Iterable[str], **options: Any) -> Iterator[str]:
        self.refuse_options(options)
        model.eval()
        labels = self.vocab("labels")
        for n, line in enumerate(lines, 1):
            if self.series:
                inputs = torch.from_numpy(self._series(line, n))[None]  # (1, T, C)
                if "mean" in self.fitted:
                    inputs = (inputs - torch.tensor(self.fitted["mean"])) / torch.tensor(self.fitted["std"])
            else:
                tokens = get_tokenizer(self.fitted["tokenizer"])(line)[: self.options.max_len]
                ids = self.vocab("tokens").encode(tokens)
                inputs = torch.tensor([ids or [self.vocab("tokens").unk_id]])  # (1, T)
            logits = model(inputs, torch.tensor([inputs.shape[1]])).logits  # (1, C)
            yield labels.symbols[int(logits.argmax(-1))]

    def _series(self, line: str, n: int) -> np.ndarray:
        try:
            steps = [[float(v) for v in step.split(",")] for step in line.strip().split(";") if step.strip()]
        except ValueError as error:
            raise TaskError(
                f"input line {n}: a series is numbers, ',' between channels and ';' between steps: {error}"
            ) from None
        channels = self.fitted["channels"]
        if not steps or any(len(s) != channels for s in steps):
            raise TaskError(
                f"input line {n}: every step needs {channels} comma-separated values, got {line.strip()!r}"
            )
        return np.asarray(steps, dtype=np.float32)  # (T, C)
