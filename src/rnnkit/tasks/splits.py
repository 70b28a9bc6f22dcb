"""Reading a data set for a task: ``builtin:NAME`` or a user's file, as train/validation/test splits.

A built-in data set is read through :mod:`rnnkit.data`'s registry and must suit the task (the registry
records each one's task); two tasks also read a view of another task's data:

- ``tag`` on a text stream (``builtin:shakespeare``): word segmentation. Each line loses its spaces
  and each remaining character is tagged ``B`` (it begins a word) or ``I`` (it continues one), so the
  tagger learns where the spaces were: a synchronous many-to-many task on real text.
- ``generate`` on documents of labelled sentences (``builtin:shakespeare-scenes``): every speech
  becomes a sequence to write given its play (``condition`` = the play).

A user's file is read by the reader of its task (see :data:`FILE_FORMATS`); one file is split by
hashing each example's text (10 % validation, 10 % test), a folder holding ``train.*`` (and optionally
``valid.*``, ``test.*``) is taken as it is.

``limit`` keeps the first N examples of each split (the first N characters of a text stream times
100), so a quick run or a test touches only a few hundred examples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rnnkit.data import (
    DataFormatError,
    Dataset,
    DocumentExample,
    GenerationExample,
    TaggingExample,
    get_builtin,
    split_items,
)
from rnnkit.data.files.common import read_text, split_lines
from rnnkit.data.files.pairs import read_pairs
from rnnkit.data.files.text import read_text_file
from rnnkit.data.tokenize import words

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

# A user's file per task: what one line holds.
FILE_FORMATS: dict[str, str] = {
    "classify": "LABEL<TAB>TEXT per line",
    "tag": "TOKEN<TAB>TAG per line, a blank line between sequences",
    "lm": "plain text, one stream",
    "generate": "CONDITION<TAB>TEXT per line",
    "seq2seq": "SOURCE<TAB>TARGET per line (extra columns ignored)",
    "han": "LABEL<TAB>DOCUMENT per line, sentences found by rule",
}

STREAM_LIMIT_FACTOR = 100  # a limit of N examples keeps N * 100 characters of a text stream


@dataclass(frozen=True)
class Splits:
    """The examples of each split (a ``str`` per split for a language-model stream)."""

    name: str  # the data set's name, or the file's path
    builtin: bool  # a built-in data set (its name then says how its text was tokenized)
    kind: str  # the data-set task of the examples (rnnkit.data.TASKS), after any view
    train: Any
    valid: Any = None  # None when the data has no validation split
    test: Any = None  # None when the data has no test split
    labels: tuple[str, ...] = ()  # class names, for classification
    summary: dict[str, int] = field(default_factory=dict)

    def get(self, split: str) -> Any:
        if split not in ("train", "valid", "test"):
            raise ValueError(f"split must be train, valid or test, got {split!r}")
        examples = getattr(self, split)
        if examples is None:
            raise ValueError(f"{self.name} has no {split!r} split")
        return examples

    def present(self) -> list[Any]:
        """The splits that exist, train first."""
        return [part for part in (self.train, self.valid, self.test) if part is not None]


def read_splits(data: str, task: str, *, limit: int | None = None) -> Splits:
    """The splits of ``data`` for adapter ``task``, each cut to ``limit`` examples."""
    if data.startswith("builtin:"):
        splits = _read_builtin(data.removeprefix("builtin:"), task)
    else:
        splits = _read_path(Path(data), task)
    if splits.kind not in ACCEPTS[task]:
        raise ValueError(
            f"{data} holds {splits.kind} data; the {task} task reads {' or '.join(ACCEPTS[task])} data"
        )
    splits = _view(splits, task)
    return _limited(splits, limit) if limit is not None else splits


def _read_builtin(name: str, task: str) -> Splits:
    try:
        builtin = get_builtin(name)
    except KeyError as error:
        raise ValueError(str(error.args[0])) from None
    dataset: Dataset = builtin.load(**BUILTIN_VIEWS.get((task, name), {}))
    return Splits(
        name, True, dataset.task, dataset.splits["train"], dataset.splits.get("valid"), dataset.splits.get("test"),
        tuple(dataset.labels), dict(dataset.summary),
    )


def _read_path(path: Path, task: str) -> Splits:
    if path.is_dir():
        found = {split: sorted(path.glob(f"{split}.*")) for split in ("train", "valid", "test")}
        if not found["train"]:
            raise FileNotFoundError(f"{path} is a folder but holds no train.* file")
        read = {split: _read_file(files[0], task) if files else None for split, files in found.items()}
        kind = read["train"][0]
        return Splits(str(path), False, kind, *(None if r is None else r[1] for r in read.values()))
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path} (give a path or builtin:NAME)")
    kind, examples = _read_file(path, task)
    if isinstance(examples, str):
        cut = len(examples) - len(examples) // 10
        return Splits(str(path), False, kind, examples[:cut], examples[cut:])
    split = split_items(examples, _key, valid=0.1, test=0.1, salt=path.name)
    return Splits(str(path), False, kind, split["train"], split.get("valid"), split.get("test"))


def _read_file(path: Path, task: str) -> tuple[str, Any]:
    if task == "seq2seq":
        return "seq2seq", read_pairs(path).examples
    if task == "lm":
        return "language-model", read_text_file(path).examples
    if task == "tag":
        return "tagging", _read_tagged(path)
    if task == "generate":
        return "generation", tuple(GenerationExample(c, tuple(words(t))) for c, t in _read_columns(path))
    raise ValueError(f"the {task} task reads only built-in data sets for now ({FILE_FORMATS[task]} is planned)")


def _read_columns(path: Path) -> list[tuple[str, str]]:
    rows = []
    for n, line in enumerate(split_lines(read_text(path)), 1):
        if not line.strip():
            continue
        first, tab, rest = line.partition("\t")
        if not tab or not first.strip() or not rest.strip():
            raise DataFormatError(path, n, f"expected two tab-separated columns, got {line!r}")
        rows.append((first.strip(), rest.strip()))
    return rows


def _read_tagged(path: Path) -> tuple[TaggingExample, ...]:
    examples, tokens, tags = [], [], []
    for n, line in enumerate([*split_lines(read_text(path)), ""], 1):
        if not line.strip():
            if tokens:
                examples.append(TaggingExample(tuple(tokens), tuple(tags)))
                tokens, tags = [], []
            continue
        columns = line.split("\t")
        if len(columns) != 2 or not all(c.strip() for c in columns):
            raise DataFormatError(path, n, f"expected TOKEN<TAB>TAG, got {line!r}")
        tokens.append(columns[0].strip())
        tags.append(columns[1].strip())
    return tuple(examples)


def _key(example: Any) -> str:
    for name in ("src", "tokens"):
        if hasattr(example, name):
            return " ".join(getattr(example, name))
    return repr(example)


# Views: a data set of one kind read as another task's examples.


def _view(splits: Splits, task: str) -> Splits:
    if task == "tag" and splits.kind == "language-model":
        convert = _segmentation
    elif task == "generate" and splits.kind == "document-classification":
        convert = _speeches
    else:
        return splits
    parts = {s: None if getattr(splits, s) is None else convert(getattr(splits, s)) for s in ("train", "valid", "test")}
    kind = "tagging" if task == "tag" else "generation"
    return replace(splits, kind=kind, **parts)


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
        return part[: limit * STREAM_LIMIT_FACTOR] if isinstance(part, str) else part[:limit]

    return replace(splits, train=cut(splits.train), valid=cut(splits.valid), test=cut(splits.test))
