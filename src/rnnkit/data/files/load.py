"""A ``Dataset`` from a user's own files: one reader per task, one file (or folder) per split.

Splits not given as files are held out of the training file: for text, by position (the first part
trains, then ``valid_fraction`` of the characters validate, then ``test_fraction`` test); otherwise
those fractions of the examples, chosen by the hash of their content (``split.split_items`` with salt
``"files"``), so identical examples share a side and the choice does not depend on line order.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..dataset import TASKS, Dataset
from ..errors import DataOptionError
from ..examples import SeriesExample
from ..split import split_items
from .common import FileData
from .conll import read_conll
from .labelled import read_conditioned, read_labelled, read_labelled_documents
from .pairs import read_pairs
from .series import read_series_csv, read_series_folder
from .text import read_text_file
from .ts import read_ts


def read_series(path: str | Path, **options: Any) -> FileData:
    """Series of any layout: a folder of class folders, a ``.ts`` file, or a long-format CSV."""
    p = Path(path)
    if p.is_dir():
        extra = sorted(set(options) - {"delimiter"})
        if extra:
            raise DataOptionError(f"a folder of series files takes only the option delimiter, got {extra}")
        return read_series_folder(p, **options)
    if p.suffix.lower() == ".ts":
        if options:
            raise DataOptionError(f"a .ts file is read without options, got {sorted(options)}")
        ts = read_ts(p)
        return FileData(tuple(SeriesExample(s, y) for s, y in zip(ts.series, ts.labels, strict=True)),
                        dict(series=len(ts.series), comment_lines=ts.comment_lines, blank_lines_skipped=ts.blank_lines))
    return read_series_csv(p, **options)


READERS: dict[str, Callable[..., FileData]] = {
    "language-model": read_text_file,
    "classification": read_labelled,
    "document-classification": read_labelled_documents,
    "tagging": read_conll,
    "seq2seq": read_pairs,
    "generation": read_conditioned,
    "series-classification": read_series,
}
# What the series reader takes, in whichever layout it finds.
_SERIES_OPTIONS = ("id_column", "label_column", "delimiter")


def reader_options(task: str) -> tuple[str, ...]:
    """The keyword options the reader of ``task`` takes."""
    if task == "series-classification":
        return _SERIES_OPTIONS
    params = inspect.signature(READERS[task]).parameters.values()
    return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def _key(example: Any) -> str:
    """What decides an example's side when a split is held out of the training file."""
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
    test_fraction: float = 0.0,
    name: str | None = None,
    **options: Any,
) -> Dataset:
    """Read ``train`` (and ``valid``/``test`` when given) with the reader of ``task``; ``options`` go to
    the reader (e.g. ``tokenizer=``, ``text_column=``, ``delimiter=``). A split not given as a file is
    held out of ``train`` when its fraction is above 0, and absent otherwise."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; one of {TASKS}")
    unknown = sorted(set(options) - set(reader_options(task)))
    if unknown:
        raise DataOptionError(f"the {task} reader takes no option {', '.join(unknown)}; "
                              f"it takes {', '.join(reader_options(task)) or 'none'}")
    read = READERS[task]
    parts = {s: read(p, **options) for s, p in (("train", train), ("valid", valid), ("test", test)) if p is not None}
    splits: dict[str, Any] = {s: d.examples for s, d in parts.items()}
    held = {"valid": valid_fraction if valid is None else 0.0, "test": test_fraction if test is None else 0.0}
    if any(held.values()):
        if task == "language-model":
            text = splits["train"]
            ends = {"train": round(len(text) * (1 - held["valid"] - held["test"])),
                    "valid": round(len(text) * (1 - held["test"])), "test": len(text)}
            starts = {"train": 0, "valid": ends["train"], "test": ends["valid"]}
            splits.update({s: text[starts[s] : ends[s]] for s in ends if s == "train" or held[s]})
        else:
            splits.update(split_items(splits["train"], _key, valid=held["valid"], test=held["test"], salt="files"))
    summary: dict[str, int] = {}
    for d in parts.values():
        for k, v in d.summary.items():
            summary[k] = summary.get(k, 0) + v
    labels: tuple[str, ...] = ()
    if task in ("classification", "document-classification", "series-classification"):
        labels = tuple(sorted({e.label for d in parts.values() for e in d.examples}))
    first = parts["train"]
    return Dataset(name or Path(train).stem, task, splits, summary, labels, first.tokenizer, first.target_tokenizer)
