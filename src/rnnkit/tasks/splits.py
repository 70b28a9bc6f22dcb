"""Reading a data set for a task: ``builtin:NAME`` or a user's files, as train/validation/test splits.

A built-in data set is read through :mod:`rnnkit.data`'s registry and must suit the task (the registry
records each one's task); two tasks also read a view of another task's data:

- ``tag`` on a text stream (``builtin:shakespeare``): word segmentation. Each line loses its spaces
  and each remaining character is tagged ``B`` (it begins a word) or ``I`` (it continues one), so the
  tagger learns where the spaces were: a synchronous many-to-many task on real text.
- ``generate`` on documents of labelled sentences (``builtin:shakespeare-scenes``): every speech
  becomes a sequence to write given its play (``condition`` = the play).

A user's files are read by :func:`rnnkit.data.load_files` with the reader of the task's kind of data
(:data:`FILE_KINDS`; ``classify`` reads series when the file holds them, :func:`rnnkit.data.is_series`).
The training file may come with a validation and a test file; a split not given as a file is held out
of the training file by the hash of each example's content (a fixed share, the same every run).

``limit`` keeps N examples of each split spread evenly over it (:func:`spread`: every (len/N)-th, so a
data set stored class by class keeps every class), or the first N times 100 characters of a text
stream, so a quick run or a test touches only a few hundred examples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rnnkit.data import (
    DataOptionError,
    Dataset,
    DocumentExample,
    GenerationExample,
    TaggingExample,
    get_builtin,
    is_series,
    load_files,
)
from rnnkit.tasks.errors import TaskError

# Which data-set tasks (rnnkit.data.TASKS) each adapter reads directly.
ACCEPTS: dict[str, tuple[str, ...]] = {
    "classify": ("classification", "series-classification"),
    "tag": ("tagging", "language-model"),
    "lm": ("language-model",),
    "generate": ("generation", "document-classification"),
    "seq2seq": ("seq2seq",),
    "han": ("document-classification",),
}

# Options passed to a built-in loader for a task that needs another view of it.
BUILTIN_VIEWS: dict[tuple[str, str], dict[str, Any]] = {
    ("han", "bbc-news"): {"view": "sentences"},
    ("classify", "japanese-vowels"): {"valid": 0.1},  # the archive has no validation split
}

# The kind of data (rnnkit.data.TASKS) a user's file is read as, per adapter; docs/DATA.md shows each format.
FILE_KINDS: dict[str, str] = {
    "classify": "classification",  # or series-classification when the file holds series
    "tag": "tagging",
    "lm": "language-model",
    "generate": "generation",
    "seq2seq": "seq2seq",
    "han": "document-classification",
}
# The reader option that takes a tokenizer, per kind of data (CoNLL tokens come split; a language
# model splits its text stream itself; series are not text).
TOKENIZER_OPTIONS: dict[str, str] = {
    "classification": "tokenizer",
    "document-classification": "tokenizer",
    "generation": "tokenizer",
    "seq2seq": "src_tokenizer",
}

STREAM_LIMIT_FACTOR = 100  # a limit of N examples keeps N * 100 characters of a text stream


@dataclass(frozen=True)
class Splits:
    """The examples of each split (a ``str`` per split for a language-model stream)."""

    name: str  # the data set's name, or the training file's path
    builtin: bool  # a built-in data set
    kind: str  # the data-set task of the examples (rnnkit.data.TASKS), after any view
    train: Any
    valid: Any = None  # None when the data has no validation split
    test: Any = None  # None when the data has no test split
    labels: tuple[str, ...] = ()  # class names, for classification
    summary: dict[str, int] = field(default_factory=dict)
    tokenizer: str | None = None  # how the text was split into tokens (Dataset.tokenizer)
    target_tokenizer: str | None = None  # seq2seq: how the targets were

    def get(self, split: str) -> Any:
        if split not in ("train", "valid", "test"):
            raise ValueError(f"split must be train, valid or test, got {split!r}")
        examples = getattr(self, split)
        if examples is None:
            raise TaskError(f"{self.name} has no {split!r} split")
        return examples

    def present(self) -> list[Any]:
        """The splits that exist, train first."""
        return [part for part in (self.train, self.valid, self.test) if part is not None]


def read_splits(
    data: str,
    task: str,
    *,
    valid: str | None = None,
    test: str | None = None,
    limit: int | None = None,
    held_out: tuple[float, float] = (0.1, 0.1),
    tokenizer: str = "auto",
    options: Mapping[str, Any] | None = None,
) -> Splits:
    """The splits of ``data`` for adapter ``task``, each cut to ``limit`` examples.

    ``data``: ``builtin:NAME`` or the training file; ``valid``/``test``: files of those splits (a user's
    files only). ``held_out``: the (validation, test) shares of the training file held out for a split
    not given as a file. ``tokenizer`` (``"auto"``: the reader's default) and ``options`` go to the
    reader of a user's file; a built-in data set is read as it ships.
    """
    options = dict(options or {})
    if data.startswith("builtin:"):
        name = data.removeprefix("builtin:")
        if valid is not None or test is not None:
            raise TaskError(f"{data} has fixed splits; --valid and --test go with a file of your own")
        splits = _read_builtin(name, task)
        _check_builtin_options(splits, tokenizer, options)
    else:
        splits = _read_files(data, task, valid, test, held_out, tokenizer, options)
    if splits.kind not in ACCEPTS[task]:
        raise TaskError(
            f"{data} holds {splits.kind} data; the {task} task reads {' or '.join(ACCEPTS[task])} data"
        )
    splits = _view(splits, task)
    return _limited(splits, limit) if limit is not None else splits


def _read_builtin(name: str, task: str) -> Splits:
    try:
        builtin = get_builtin(name)
    except KeyError as error:
        raise TaskError(str(error.args[0])) from None
    return _splits(builtin.load(**BUILTIN_VIEWS.get((task, name), {})), builtin=True)


def _check_builtin_options(splits: Splits, tokenizer: str, options: Mapping[str, Any]) -> None:
    if tokenizer not in ("auto", splits.tokenizer) and splits.kind in TOKENIZER_OPTIONS:
        raise TaskError(f"builtin:{splits.name} was split into tokens by {splits.tokenizer}; "
                        f"the tokenizer {tokenizer!r} applies to a file of your own")
    if options:
        raise TaskError(f"builtin:{splits.name} is read as it ships; the reader options "
                        f"{', '.join(sorted(options))} apply to a file of your own")


def _read_files(
    train: str, task: str, valid: str | None, test: str | None, held_out: tuple[float, float], tokenizer: str,
    options: dict[str, Any],
) -> Splits:
    kind = FILE_KINDS[task]
    layout = {"id_column": options.get("id_column", "series"), "delimiter": options.get("delimiter") or ","}
    if kind == "classification" and is_series(train, **layout):
        kind = "series-classification"
    if tokenizer != "auto":
        if kind not in TOKENIZER_OPTIONS:
            raise DataOptionError(f"{train} holds {kind} data, which is not read with a tokenizer; "
                                  f"leave the tokenizer at auto")
        options[TOKENIZER_OPTIONS[kind]] = tokenizer
    dataset = load_files(kind, train, valid, test, valid_fraction=held_out[0], test_fraction=held_out[1],
                         name=str(train), **options)
    return _splits(dataset, builtin=False)


def _splits(dataset: Dataset, *, builtin: bool) -> Splits:
    parts = dataset.splits
    return Splits(
        dataset.name, builtin, dataset.task, parts["train"], parts.get("valid"), parts.get("test"),
        tuple(dataset.labels), dict(dataset.summary), dataset.tokenizer, dataset.target_tokenizer,
    )


# Views: a data set of one kind read as another task's examples.


def _view(splits: Splits, task: str) -> Splits:
    if task == "tag" and splits.kind == "language-model":
        convert = _segmentation
    elif task == "generate" and splits.kind == "document-classification":
        convert = _speeches
    else:
        return splits
    parts = {s: None if getattr(splits, s) is None else convert(getattr(splits, s)) for s in ("train", "valid", "test")}
    if task == "tag":
        return replace(splits, kind="tagging", tokenizer="nonspace_chars", **parts)
    return replace(splits, kind="generation", **parts)


def _segmentation(text: str) -> tuple[TaggingExample, ...]:
    """Each non-blank line without its spaces, each character tagged B (begins a word) or I."""
    examples = []
    for line in text.split("\n"):
        chars, tags = [], []
        for word in line.split():
            chars += list(word)
            tags += ["B"] + ["I"] * (len(word) - 1)
        if chars:
            examples.append(TaggingExample(tuple(chars), tuple(tags)))
    return tuple(examples)


def _speeches(documents: Sequence[DocumentExample]) -> tuple[GenerationExample, ...]:
    return tuple(GenerationExample(d.label, s) for d in documents for s in d.sentences if s)


def _limited(splits: Splits, limit: int) -> Splits:
    def cut(part: Any) -> Any:
        if part is None:
            return None
        return part[: limit * STREAM_LIMIT_FACTOR] if isinstance(part, str) else spread(part, limit)

    return replace(splits, train=cut(splits.train), valid=cut(splits.valid), test=cut(splits.test))


def spread(examples: Sequence[Any], n: int) -> Sequence[Any]:
    """``n`` of ``examples`` spread evenly over them, in their order: those at ``i * len // n``.

    Built-in data sets are stored sorted (by class, by word), so their first ``n`` examples would be
    one class or one letter; an even spread is as fixed a subset and keeps their variety.
    """
    if len(examples) <= n:
        return examples
    return tuple(examples[i * len(examples) // n] for i in range(n))
