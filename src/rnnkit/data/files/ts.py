"""The ``.ts`` time-series format of the UEA/UCR archive (as shipped by sktime and aeon), read directly.

A file is ``#`` comment lines, ``@`` header lines, then ``@data`` and one case a line::

    @problemName JapaneseVowels
    @univariate false
    @dimensions 12
    @equalLength false
    @classLabel true 1 2 3 4 5 6 7 8 9
    @data
    1.86,1.89,...,1.26:-0.21,-0.19,...,-0.64: ... :1

Channels are separated by ``:`` and values within a channel by ``,``; with ``@classLabel true`` the last
field is the class. All channels of one case have the same length; cases may differ in length. Missing
values (``?``) are allowed only when ``@missing true`` and become NaN. Time stamps
(``@timeStamps true``) are not supported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataFormatError


@dataclass(frozen=True, eq=False)
class TsData:
    series: tuple[np.ndarray, ...]  # each (T_i, C) float32
    labels: tuple[str, ...]
    header: dict[str, str]
    comment_lines: int
    blank_lines: int


def _flag(header: dict[str, str], name: str, file: Path) -> bool:
    value = header.get(name, "false").split()[0].lower()
    if value not in ("true", "false"):
        raise DataFormatError(file, None, f"@{name} must be true or false, got {value!r}")
    return value == "true"


def read_ts(path: str | Path) -> TsData:
    file = Path(path)
    header: dict[str, str] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    comments = blanks = 0
    in_data = False
    classes: set[str] | None = None
    dims: int | None = None
    has_label = missing = False
    with open(file, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                blanks += 1
                continue
            if line.startswith("#"):
                comments += 1
                continue
            if not in_data:
                if not line.startswith("@"):
                    raise DataFormatError(file, n, f"expected a @header line before @data, got {line[:40]!r}")
                name, _, value = line[1:].partition(" ")
                if name.lower() == "data":
                    in_data = True
                    if _flag(header, "timestamps", file):
                        raise DataFormatError(file, n, "time-stamped series (@timeStamps true) are not supported")
                    has_label = _flag(header, "classlabel", file)
                    missing = _flag(header, "missing", file)
                    if has_label:
                        classes = set(header["classlabel"].split()[1:])
                    if "dimensions" in header:
                        dims = int(header["dimensions"])
                    elif _flag(header, "univariate", file):
                        dims = 1
                    continue
                header[name.lower()] = value.strip()
                continue
            fields = line.split(":")
            label = None
            if has_label:
                label = fields.pop().strip()
                if classes and label not in classes:
                    raise DataFormatError(file, n, f"class {label!r} is not declared in @classLabel")
            if dims is not None and len(fields) != dims:
                raise DataFormatError(file, n, f"expected {dims} channels, found {len(fields)}")
            channels = []
            for c, field in enumerate(fields, 1):
                values = field.split(",")
                if "?" in values and not missing:
                    raise DataFormatError(file, n, f"channel {c}: missing value '?' but the header says @missing false")
                try:
                    channels.append(np.array([np.nan if v == "?" else float(v) for v in values], dtype=np.float32))
                except ValueError as e:
                    raise DataFormatError(file, n, f"channel {c}: {e}") from None
            lengths = {len(ch) for ch in channels}
            if len(lengths) != 1:
                raise DataFormatError(file, n, f"channels of one case differ in length: {sorted(lengths)}")
            series.append(np.stack(channels, axis=1))  # (T, C)
            if label is not None:
                labels.append(label)
    if not in_data:
        raise DataFormatError(file, None, "no @data line")
    if not series:
        raise DataFormatError(file, None, "no cases after @data")
    return TsData(tuple(series), tuple(labels), header, comments, blanks)
