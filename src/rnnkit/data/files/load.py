"""A ``Dataset`` from a user's own files: one reader per task, one file (or folder) per split.

Without a validation file, a validation split is taken from the training file: for text, its last
``valid_fraction`` of characters; otherwise ``valid_fraction`` of the examples, chosen by the hash of
their content (``split.split_items`` with salt ``"files"``), so identical examples share a side and the
choice does not depend on line order.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..dataset import TASKS, Dataset
from ..examples import GenerationExample, SeriesExample
from ..split import split_items
from .common import FileData
from .conll import read_conll
from .labelled import read_labelled, read_labelled_documents
from .pairs import read_pairs
from .series import read_series_csv, read_series_folder
from .text import read_text_file
from .ts import read_ts


def _read_series(path: str | Path, **options: Any) -> FileData:
    p = Path(path)
    if p.is_dir():
        return read_series_folder(p, **options)
    if p.suffix.lower() == ".ts":
        ts = read_ts(p)
        return FileData(tuple(SeriesExample(s, y) for s, y in zip(ts.series, ts.labels, strict=True)),
                        dict(series=len(ts.series), comment_lines=ts.comment_lines, blank_lines_skipped=ts.blank_lines))
    return read_series_csv(p, **options)


def _read_generation(path: str | Path, **options: Any) -> FileData:
    """A text/label file read as (condition = label, sequence = text)."""
    data = read_labelled(path, **options)
    return FileData(tuple(GenerationExample(e.label, e.tokens) for e in data.examples), data.summary)


READERS: dict[str, Callable[..., FileData]] = {
    "language-model": read_text_file,
    "classification": read_labelled,
    "document-classification": read_labelled_documents,
    "tagging": read_conll,
    "seq2seq": read_pairs,
    "generation": _read_generation,
    "series-classification": _read_series,
}


def _key(example: Any) -> str:
    """What decides an example's side when a validation split is carved out of the training file."""
    for attr in ("src", "tokens", "sentences"):
        if hasattr(example, attr):
            return repr(getattr(example, attr))
    return repr(example.values.tolist())


def load_files(
    task: str,
    train: str | Path,
    valid: str | Path | None = None,
    test: str | Path | None = None,
    *,
    valid_fraction: float = 0.1,
    name: str | None = None,
    **options: Any,
) -> Dataset:
    """Read ``train`` (and ``valid``/``test`` when given) with the reader of ``task``; ``options`` go to
    the reader (e.g. ``tokenizer=``, ``text_column=``, ``delimiter=``)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; one of {TASKS}")
    read = READERS[task]
    parts = {s: read(p, **options) for s, p in (("train", train), ("valid", valid), ("test", test)) if p is not None}
    splits: dict[str, Any] = {s: d.examples for s, d in parts.items()}
    if valid is None and valid_fraction > 0:
        if task == "language-model":
            text = splits["train"]
            cut = round(len(text) * (1 - valid_fraction))
            splits["train"], splits["valid"] = text[:cut], text[cut:]
        else:
            held = split_items(splits["train"], _key, valid=valid_fraction, test=0, salt="files")
            splits["train"], splits["valid"] = held["train"], held.get("valid", ())
    summary: dict[str, int] = {}
    for d in parts.values():
        for k, v in d.summary.items():
            summary[k] = summary.get(k, 0) + v
    labels: tuple[str, ...] = ()
    if task in ("classification", "document-classification", "series-classification"):
        labels = tuple(sorted({e.label for d in parts.values() for e in d.examples}))
    return Dataset(name or Path(train).stem, task, splits, summary, labels)
