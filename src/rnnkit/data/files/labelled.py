"""CSV or TSV files of text and label: for classification (flat, or as documents of sentences) and for
generation (the label is the condition the text is written from).

- Delimiter: from the extension (``.tsv``/``.tab`` -> tab, otherwise comma) unless given. Comma-separated
  fields are read with the ``csv`` module, so quoted fields may hold delimiters, quotes and line breaks;
  tab-separated ones are taken as they are (no quoting: a ``"`` is text, each line is a row).
- Header: ``header=None`` (default) detects one: the first row is a header when one of its cells is a
  usual column name (text, sentence, review, content, document, body / label, class, category,
  target, sentiment, condition). ``header=True``/``False`` says so explicitly.
- Columns: ``text_column``/``label_column`` by name (needs a header) or 0-based index. By default the
  header's text-like and label-like names; without a header, text in column 0 and label in column 1
  (for generation, ``CONDITION<TAB>TEXT``: the condition in column 0, the text in column 1).
- Every row must have as many fields as the first; a shorter or longer row, an empty text or an empty
  label is an error naming the file and line. Blank lines are skipped and counted.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import DataFormatError
from ..examples import ClassificationExample, DocumentExample, GenerationExample
from ..tokenize import get_tokenizer, split_document
from .common import FileData, read_text

TEXT_NAMES = ("text", "sentence", "review", "content", "document", "body")
LABEL_NAMES = ("label", "class", "category", "target", "sentiment", "condition")


def _column(spec: int | str | None, names: tuple[str, ...], header: list[str] | None, default: int,
            file: Path, what: str) -> int:
    if isinstance(spec, int):
        return spec
    if spec is not None:
        if header is None:
            raise DataFormatError(file, 1, f"{what} column {spec!r} is given by name but the file has no header")
        lowered = [h.strip().lower() for h in header]
        if spec.lower() not in lowered:
            raise DataFormatError(file, 1, f"no {what} column named {spec!r}; the header has {header}")
        return lowered.index(spec.lower())
    if header is not None:
        lowered = [h.strip().lower() for h in header]
        for name in names:
            if name in lowered:
                return lowered.index(name)
        raise DataFormatError(file, 1, f"cannot tell which column holds the {what} in header {header}; "
                                       f"name it with {what}_column=")
    return default


def read_rows(
    path: str | Path,
    *,
    delimiter: str | None = None,
    header: bool | None = None,
    text_column: int | str | None = None,
    label_column: int | str | None = None,
    default_columns: tuple[int, int] = (0, 1),
) -> tuple[list[tuple[int, str, str]], dict[str, int]]:
    """``(line, text, label)`` of every data row, and the counts of what was read. ``default_columns``:
    the (text, label) columns of a file without a header."""
    file = Path(path)
    if delimiter is None:
        delimiter = "\t" if file.suffix.lower() in (".tsv", ".tab") else ","
    # A tab-separated file has no quoting (a field cannot hold a tab): a quote is text, and a line is a row.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(read_text(file), newline=""), delimiter=delimiter, quoting=quoting)
    counts = dict(rows=0, header_rows=0, blank_lines_skipped=0)
    rows: list[tuple[int, list[str]]] = []
    for fields in reader:
        if not fields or all(not f.strip() for f in fields):
            counts["blank_lines_skipped"] += 1
            continue
        rows.append((reader.line_num, fields))
    if not rows:
        raise DataFormatError(file, None, "no rows")
    first = [f.strip().lower() for f in rows[0][1]]
    if header is None:
        header = any(name in first for name in TEXT_NAMES + LABEL_NAMES) or isinstance(text_column, str)
    head = rows.pop(0)[1] if header else None
    counts["header_rows"] = int(bool(header))
    width = len(head) if head is not None else len(rows[0][1]) if rows else 0
    if width < 2:
        raise DataFormatError(file, 1, f"expected at least a text and a label column, found {width} "
                                       f"(delimiter {delimiter!r})")
    t = _column(text_column, TEXT_NAMES, head, default_columns[0], file, "text")
    y = _column(label_column, LABEL_NAMES, head, default_columns[1], file, "label")
    for col, what in ((t, "text"), (y, "label")):
        if not -width <= col < width:
            raise DataFormatError(file, 1, f"{what} column {col} is outside the {width} columns")
    out = []
    for line, fields in rows:
        if len(fields) != width:
            raise DataFormatError(file, line, f"expected {width} fields, found {len(fields)}")
        text, label = fields[t].strip(), fields[y].strip()
        if not text:
            raise DataFormatError(file, line, "empty text")
        if not label:
            raise DataFormatError(file, line, "empty label")
        out.append((line, text, label))
    counts["rows"] = len(out)
    return out, counts


def read_labelled(
    path: str | Path,
    *,
    tokenizer: str = "lower_words",
    delimiter: str | None = None,
    header: bool | None = None,
    text_column: int | str | None = None,
    label_column: int | str | None = None,
) -> FileData:
    """``ClassificationExample``s: the text's tokens (``tokenize.get_tokenizer(tokenizer)``) and its label."""
    rows, counts = read_rows(path, delimiter=delimiter, header=header, text_column=text_column,
                             label_column=label_column)
    tok = get_tokenizer(tokenizer)
    examples = tuple(ClassificationExample(_tokens(tok(text), path, line, text), label) for line, text, label in rows)
    return FileData(examples, counts, tokenizer=tokenizer)


def read_labelled_documents(
    path: str | Path,
    *,
    tokenizer: str = "lower_words",
    separator: str | None = None,
    delimiter: str | None = None,
    header: bool | None = None,
    text_column: int | str | None = None,
    label_column: int | str | None = None,
) -> FileData:
    """``DocumentExample``s: the text cut into sentences (at ``separator`` when given, else by
    ``tokenize.sentences``) of tokens."""
    rows, counts = read_rows(path, delimiter=delimiter, header=header, text_column=text_column,
                             label_column=label_column)
    examples = []
    for line, text, label in rows:
        sents = tuple(tuple(s) for s in split_document(text, tokenizer, separator))
        examples.append(DocumentExample(_tokens(sents, path, line, text), label))
    counts["sentences"] = sum(len(e.sentences) for e in examples)
    return FileData(tuple(examples), counts, tokenizer=tokenizer)


def read_conditioned(
    path: str | Path,
    *,
    tokenizer: str = "lower_words",
    delimiter: str | None = None,
    header: bool | None = None,
    condition_column: int | str | None = None,
    text_column: int | str | None = None,
) -> FileData:
    """``GenerationExample``s: a condition (read as a label is) and the text to write from it. Without a
    header the condition is column 0 and the text column 1 (``CONDITION<TAB>TEXT``)."""
    rows, counts = read_rows(path, delimiter=delimiter, header=header, text_column=text_column,
                             label_column=condition_column, default_columns=(1, 0))
    tok = get_tokenizer(tokenizer)
    examples = tuple(GenerationExample(cond, _tokens(tok(text), path, line, text)) for line, text, cond in rows)
    return FileData(examples, counts, tokenizer=tokenizer)


def _tokens(tokens: Sequence[Any], path: str | Path, line: int, text: str) -> tuple[Any, ...]:
    if not tokens:
        raise DataFormatError(path, line, f"the text {text!r} has no tokens")
    return tuple(tokens)
