"""``Dataset``: the splits of one data set, what task they are for, how its text was tokenized, and an
account of the reading.

``summary`` counts what was read, kept and skipped (blank lines, comments, filtered entries), so nothing
is dropped silently; ``describe()`` prints it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .examples import Seq2SeqExample, Tokens

TASKS = (
    "language-model",  # one text stream; splits are strings
    "classification",  # ClassificationExample
    "series-classification",  # SeriesExample
    "tagging",  # TaggingExample
    "seq2seq",  # Seq2SeqExample
    "generation",  # GenerationExample
    "document-classification",  # DocumentExample
)


@dataclass(frozen=True)
class Dataset:
    name: str
    task: str
    splits: Mapping[str, Any]  # split name -> tuple of examples (a str for "language-model")
    summary: Mapping[str, int] = field(default_factory=dict)
    labels: tuple[str, ...] = ()  # class names, for the classification tasks
    # How the examples' text was split into tokens (a name for tokenize.get_tokenizer), so that new text
    # given to a trained model is split alike: the input side (seq2seq: the source); None for series.
    tokenizer: str | None = None
    target_tokenizer: str | None = None  # seq2seq: how the targets were split (outputs are joined back by it)

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"unknown task {self.task!r}; one of {TASKS}")
        if "train" not in self.splits:
            raise ValueError(f"data set {self.name!r} has no 'train' split (has {list(self.splits)})")

    def __getitem__(self, split: str) -> Any:
        if split not in self.splits:
            raise KeyError(f"data set {self.name!r} has no split {split!r} (has {list(self.splits)})")
        return self.splits[split]

    def sizes(self) -> dict[str, int]:
        """Examples per split (characters for a language-model stream)."""
        return {k: len(v) for k, v in self.splits.items()}

    def references(self, split: str) -> dict[Tokens, list[Tokens]]:
        """Seq2seq: every accepted target of each distinct source, in order of first appearance.
        An output is correct when it equals any of them (a word with several pronunciations)."""
        refs: dict[Tokens, list[Tokens]] = {}
        for e in self[split]:
            if not isinstance(e, Seq2SeqExample):
                raise TypeError(f"references need seq2seq examples; {self.name!r} holds {type(e).__name__}")
            refs.setdefault(e.src, []).append(e.tgt)
        return refs

    def describe(self) -> str:
        lines = [f"{self.name} ({self.task})"]
        lines += [f"  {k}: {n:,}" for k, n in self.sizes().items()]
        if self.tokenizer:
            target = f", targets {self.target_tokenizer}" if self.target_tokenizer else ""
            lines.append(f"  tokenizer: {self.tokenizer}{target}")
        if self.labels:
            lines.append(f"  {len(self.labels)} classes: {', '.join(self.labels)}")
        lines += [f"  {k.replace('_', ' ')}: {v:,}" for k, v in self.summary.items()]
        return "\n".join(lines)
