"""Tokenizers: characters, words (one regular expression) and sentences (a few rules, enough for news).

All are pure functions of the text, so a model's vocabulary and its input always agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal, get_args

# A word is a run of letters/digits that may hold inner apostrophes or hyphens ("don't", "so-called",
# "o'er"); every other non-space character is a token of its own. Dotted abbreviations ("U.S.") and
# numbers with inner separators ("7,500", "3.5") stay whole.
_WORD = re.compile(r"(?:[A-Za-z]\.){2,}|\d+(?:[.,]\d+)*|\w+(?:['’-]\w+)*|[^\w\s]")

# Abbreviations whose final full stop does not end a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st mt jr sr gen col lt sgt capt rev gov sen rep no vs etc inc ltd co corp "
    "jan feb mar apr jun jul aug sep sept oct nov dec e.g i.e u.s u.k u.n a.m p.m".split()
)
# A candidate end: ., ! or ? (plus closing quotes/brackets), then space, then what can open a sentence.
_END = re.compile(r"([.!?]+[\"'’”)\]]*)\s+(?=[\"'‘“(\[]?[A-Z0-9])")


def chars(text: str) -> list[str]:
    """Every character, spaces and newlines included."""
    return list(text)


def words(text: str, *, lowercase: bool = False) -> list[str]:
    """Words and punctuation marks: ``"Don't stop," he said.`` -> ``" Don't stop , " he said .``"""
    if lowercase:
        text = text.lower()
    return _WORD.findall(text)


def sentences(text: str) -> list[str]:
    """Split prose into sentences at ``.``, ``!`` or ``?`` followed by a space and a capital, digit or
    opening quote, except after a known abbreviation (``Mr.``, ``U.S.``) or a single initial (``J. Smith``).
    Line breaks always end a sentence (a paragraph or a title never runs on into the next line)."""
    out: list[str] = []
    for line in text.splitlines():
        start = 0
        for m in _END.finditer(line):
            before = line[start : m.start(1)]
            last = before.rsplit(None, 1)[-1] if before.split() else ""
            if m.group(1).startswith(".") and len(m.group(1).rstrip("\"'’”)]")) == 1:
                if last.lower().strip("(\"'") in _ABBREVIATIONS or (len(last) == 1 and last.isupper()):
                    continue
            out.append(line[start : m.end(1)].strip())
            start = m.end()
        rest = line[start:].strip()
        if rest:
            out.append(rest)
    return [s for s in out if s]


def spaces(text: str) -> list[str]:
    """Tokens separated by white space, as written (phoneme strings, pre-tokenized text)."""
    return text.split()


def nonspace_chars(text: str) -> list[str]:
    """Every character but white space (text to be segmented into words)."""
    return [c for c in text if not c.isspace()]


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {
    "chars": chars, "words": words, "spaces": spaces, "nonspace_chars": nonspace_chars,
}
# Every tokenizer name: each of TOKENIZERS, and each with ``lower_`` before it (lowercase the text first).
TokenizerName = Literal[
    "chars", "words", "spaces", "nonspace_chars", "lower_chars", "lower_words", "lower_spaces", "lower_nonspace_chars"
]
TOKENIZER_NAMES: tuple[str, ...] = get_args(TokenizerName)


def get_tokenizer(name: str) -> Callable[[str], list[str]]:
    """A tokenizer by name (:data:`TOKENIZER_NAMES`): ``"words"``, or ``"lower_words"`` to lowercase first.

    A data set records the name its text was split with (``Dataset.tokenizer``), so that new text given to
    a trained model is split the same way.
    """
    if name not in TOKENIZER_NAMES:
        raise ValueError(f"unknown tokenizer {name!r}; one of {', '.join(TOKENIZER_NAMES)}")
    fn = TOKENIZERS[name.removeprefix("lower_")]
    return (lambda text: fn(text.lower())) if name.startswith("lower_") else fn


def joiner(name: str) -> str:
    """What goes between tokens to write them back as text: nothing between characters, else a space."""
    return "" if name.endswith("chars") else " "


def split_document(text: str, tokenizer: str, separator: str | None = None) -> list[list[str]]:
    """A document's sentences of tokens: ``text`` cut at ``separator`` when given, else by
    :func:`sentences`; sentences without a token are left out."""
    tok = get_tokenizer(tokenizer)
    parts = text.split(separator) if separator else sentences(text)
    return [tokens for tokens in (tok(part.strip()) for part in parts) if tokens]
