"""han: document classification with a hierarchical attention network (words -> sentences -> document).

Data: documents as sentences of words with a label (``builtin:shakespeare-scenes``: which play a scene
is from; ``builtin:bbc-news`` read as sentences; a CSV or TSV file of text and label, each text cut into
sentences by rule or at ``separator``). Long documents are cut to ``max_sentences`` sentences
of ``max_words`` words, or a batch grows as large as its longest document. The loss is the softmax
cross-entropy; evaluation reports the accuracy.

Prediction reads one document a line; its sentences are found as in the files: by rule, or at ``separator``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rnnkit.data import DocumentExample, Vocab, document_source, split_document
from rnnkit.models import HANConfig, HierarchicalAttentionNetwork
from rnnkit.tasks.base import TaskOptions
from rnnkit.tasks.classify import LabelTask, class_names, classification_step
from rnnkit.tasks.splits import Splits
from rnnkit.training.task import StepOutput


@dataclass
class HANOptions(TaskOptions):
    """Options of the han task."""

    max_sentences: int | None = 40  # read at most this many sentences of a document; None: all
    max_words: int | None = 50  # and at most this many words of a sentence; None: all
    min_freq: int = 2  # a word seen fewer times in training maps to <unk>
    max_vocab: int | None = 30_000  # keep at most this many words; None: all
    separator: str | None = None  # your files and prediction: a text's sentences end here; None: by rule (., !, ?)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least(1, "max_sentences", "max_words", optional=True)
        self.check_at_least(1, "min_freq")


class HANTask(LabelTask):
    """Hierarchical document classification (:class:`rnnkit.models.HierarchicalAttentionNetwork`)."""

    name = "han"
    summary = "a label per document of sentences (shakespeare-scenes, bbc-news; CSV/TSV): hierarchical attention"
    options_class = HANOptions
    model_class = HierarchicalAttentionNetwork
    model_config_class = HANConfig
    derived_fields = ("vocab_size", "num_classes", "padding_idx")
    default_data = "builtin:shakespeare-scenes"
    options: HANOptions

    def fit(self, splits: Splits) -> None:
        o = self.options
        self.vocabs["labels"] = class_names(splits)
        self.vocabs["tokens"] = Vocab.build(
            (s[: o.max_words] for d in splits.train for s in d.sentences[: o.max_sentences]),
            min_freq=o.min_freq, max_size=o.max_vocab,
        )
        self.fitted["tokenizer"] = self.tokenizer_for(splits)

    def derived_config(self) -> dict[str, Any]:
        return {"vocab_size": len(self.vocab("tokens")), "num_classes": len(self.vocab("labels")),
                "padding_idx": self.vocab("tokens").pad_id}

    def batches(self, examples: Sequence[Any], *, train: bool, seed: int = 0) -> Any:
        o = self.options
        self.check_known("labels", (e.label for e in examples), "labels")
        return document_source(
            examples, self.vocab("tokens"), self.vocab("labels"),
            batch_size=o.batch_size if train else o.eval_batch_size, seed=seed, shuffle=train,
            max_sentences=o.max_sentences, max_words=o.max_words,
        )

    def step(self, model: nn.Module, batch: Any, carry: Any) -> StepOutput:
        logits = model(batch.docs, batch.sentence_counts, batch.word_counts).logits  # (B, C)
        return classification_step(logits, batch.labels)

    def reader_options(self, data: str) -> dict[str, Any]:
        """A user's file's texts are cut into sentences at ``separator`` too, when one is set."""
        options = super().reader_options(data)
        if self.options.separator is not None and not data.startswith("builtin:"):
            options.setdefault("separator", self.options.separator)
        return options

    @torch.no_grad()
    def predict(self, model: nn.Module, lines: Iterable[str], **options: Any) -> Iterator[str]:
        self.refuse_options(options)
        model.eval()
        labels = self.vocab("labels")
        for line in lines:
            sentences = split_document(line, self.fitted["tokenizer"], self.options.separator) or [["<unk>"]]
            document = DocumentExample(tuple(tuple(s) for s in sentences), labels.symbols[0])
            batch = next(iter(self.batches([document], train=False).batches(0)))
            logits = model(batch.docs, batch.sentence_counts, batch.word_counts).logits  # (1, C)
            yield labels.symbols[int(logits.argmax(-1))]
