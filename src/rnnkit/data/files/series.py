"""Numeric series from CSV files, for series classification. Two layouts:

**Long format** (one file, ``read_series_csv``): a header row, then one row per time step; rows of one
series are consecutive and in time order::

    series,label,c1,c2,c3
    s001,walk,0.12,0.40,-1.2
    s001,walk,0.15,0.38,-1.1
    s002,run,0.90,0.10,0.3

``id_column`` ("series") names the series, ``label_column`` ("label") its class (the same on every row
of a series); every other column is a channel. An id that reappears after another series began, a
label that changes within a series, or a value that is not a finite number is an error naming the
file and line.

**One series per file** (a folder, ``read_series_folder``): ``<root>/<label>/<name>.csv``, each file
one series with a row per time step and a column per channel; a first row that is not numeric is a
header and skipped. All series must have the same number of channels.

Blank lines are skipped and counted in both layouts.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from ..errors import DataFormatError
from ..examples import SeriesExample
from .common import FileData, read_text, split_lines


def _number(value: str, file: Path, line: int, column: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise DataFormatError(file, line, f"column {column}: {value!r} is not a number") from None
    if not math.isfinite(x):
        raise DataFormatError(file, line, f"column {column}: {value!r} is not a finite number")
    return x


def _rows(file: Path, delimiter: str) -> tuple[list[tuple[int, list[str]]], int]:
    reader = csv.reader(io.StringIO(read_text(file), newline=""), delimiter=delimiter)
    rows, blank = [], 0
    for fields in reader:
        if not fields or all(not f.strip() for f in fields):
            blank += 1
            continue
        rows.append((reader.line_num, [f.strip() for f in fields]))
    return rows, blank


def read_series_csv(
    path: str | Path, *, id_column: str = "series", label_column: str = "label", delimiter: str = ","
) -> FileData:
    """Long format: ``SeriesExample``s in order of first appearance."""
    file = Path(path)
    rows, blank = _rows(file, delimiter)
    if not rows:
        raise DataFormatError(file, None, "no rows")
    line0, head = rows.pop(0)
    for name in (id_column, label_column):
        if name not in head:
            raise DataFormatError(file, line0, f"the header has no column {name!r} (header: {head})")
    i, y = head.index(id_column), head.index(label_column)
    channels = [c for c in range(len(head)) if c not in (i, y)]
    if not channels:
        raise DataFormatError(file, line0, "no channel columns besides the id and label")
    series: dict[str, tuple[str, list[list[float]]]] = {}
    current = None
    for line, fields in rows:
        if len(fields) != len(head):
            raise DataFormatError(file, line, f"expected {len(head)} fields like the header, found {len(fields)}")
        sid, label = fields[i], fields[y]
        if sid != current:
            if sid in series:
                raise DataFormatError(file, line, f"series {sid!r} continues after another series began; "
                                                  "keep the rows of a series together")
            if not label:
                raise DataFormatError(file, line, f"series {sid!r} has an empty label")
            series[sid] = (label, [])
            current = sid
        elif label != series[sid][0]:
            raise DataFormatError(file, line, f"series {sid!r} changes label from {series[sid][0]!r} to {label!r}")
        series[sid][1].append([_number(fields[c], file, line, head[c]) for c in channels])
    examples = tuple(SeriesExample(np.asarray(v, dtype=np.float32), label) for label, v in series.values())
    summary = dict(rows=len(rows), series=len(examples), channels=len(channels), blank_lines_skipped=blank)
    return FileData(examples, summary)


def read_series_folder(root: str | Path, *, delimiter: str = ",") -> FileData:
    """One series per file: ``<root>/<label>/*.csv``, in label then file-name order."""
    root = Path(root)
    classes = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataFormatError(root, None, "expected one subfolder per class holding .csv files, found none")
    examples, blank, headers = [], 0, 0
    width = None
    for cls in classes:
        for file in sorted(cls.glob("*.csv")):
            rows, b = _rows(file, delimiter)
            blank += b
            if rows and not _numeric(rows[0][1]):
                rows.pop(0)
                headers += 1
            if not rows:
                raise DataFormatError(file, None, "no time steps")
            for line, fields in rows:
                if width is None:
                    width = len(fields)
                if len(fields) != width:
                    raise DataFormatError(
                        file, line, f"expected {width} channels like the first series, found {len(fields)}"
                    )
            values = [[_number(v, file, line, str(c + 1)) for c, v in enumerate(f)] for line, f in rows]
            examples.append(SeriesExample(np.asarray(values, dtype=np.float32), cls.name))
    if not examples:
        raise DataFormatError(root, None, "no .csv files in the class folders")
    summary = dict(series=len(examples), channels=width or 0, header_rows_skipped=headers, blank_lines_skipped=blank)
    return FileData(tuple(examples), summary)


def is_series(path: str | Path, *, id_column: str = "series", delimiter: str = ",") -> bool:
    """Whether ``path`` holds series rather than text: a folder (one series per file), a ``.ts`` file,
    or a CSV whose first row names ``id_column`` (the long format)."""
    p = Path(path)
    if p.is_dir() or p.suffix.lower() == ".ts":
        return True
    first = next((line for line in split_lines(read_text(p)) if line.strip()), "")
    return id_column in (f.strip() for f in first.split(delimiter))


def _numeric(fields: list[str]) -> bool:
    try:
        [float(f) for f in fields]
    except ValueError:
        return False
    return True
