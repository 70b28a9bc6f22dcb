"""What every reader of a user's file shares: decoding with a located error, and the result type."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataFormatError


@dataclass(frozen=True)
class FileData:
    """The examples read from one file (a string for plain text), counts of what was read and skipped, and
    the tokenizers that split its text (names for ``tokenize.get_tokenizer``; see ``Dataset.tokenizer``)."""

    examples: Any
    summary: dict[str, int] = field(default_factory=dict)
    tokenizer: str | None = None
    target_tokenizer: str | None = None


def read_text(path: str | Path) -> str:
    """The file as text: UTF-8 (a leading byte-order mark is dropped), line ends normalised to ``\\n``.
    A byte that is not UTF-8 is reported with its line."""
    file = Path(path)
    if file.is_dir():
        raise FileNotFoundError(f"{file} is a folder, not a file this reader takes")
    if not file.is_file():
        raise FileNotFoundError(f"no such file: {file}")
    raw = file.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataFormatError(file, line, f"byte {raw[e.start]:#04x} is not UTF-8; save the file as UTF-8") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise DataFormatError(file, None, "the file is empty")
    return text


def split_lines(text: str) -> list[str]:
    """The lines of ``text``; the newline that ends the last line opens no line of its own."""
    lines = text.split("\n")
    return lines[:-1] if text.endswith("\n") else lines
