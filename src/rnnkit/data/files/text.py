"""Plain text for a language model: the whole file is one stream; nothing is skipped.

The text is kept whole; a language model splits it into tokens itself (characters unless told otherwise).
"""

from __future__ import annotations

from pathlib import Path

from .common import FileData, read_text, split_lines


def read_text_file(path: str | Path) -> FileData:
    """``examples`` is the text (UTF-8, ``\\n`` line ends)."""
    text = read_text(path)
    return FileData(text, {"characters": len(text), "lines": len(split_lines(text))}, tokenizer="chars")
