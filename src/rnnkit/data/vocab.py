"""Vocabularies: symbol <-> id maps for characters, words, phonemes, tags and class labels.

Ids are assigned in a fixed order so that the same data always gives the same vocabulary: the special
tokens first (``<pad>`` = 0, so zero padding never collides with a real symbol; then ``<unk>``, ``<bos>``,
``<eos>``), then the data's symbols by descending frequency, ties broken by the symbol itself. Class
labels use no specials: label ``i`` is output unit ``i``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

PAD = "<pad>"
UNK = "<unk>"
BOS = "<bos>"
EOS = "<eos>"
SPECIALS: tuple[str, ...] = (PAD, UNK, BOS, EOS)

_FORMAT = "rnnkit.vocab"
_VERSION = 1


class Vocab:
    """An ordered set of symbols; ``specials`` (a prefix of ``symbols``) are the reserved ones."""

    def __init__(self, symbols: Sequence[str], specials: Sequence[str] = SPECIALS) -> None:
        symbols = list(symbols)
        specials = tuple(specials)
        if tuple(symbols[: len(specials)]) != specials:
            raise ValueError(f"the specials {specials} must open the symbol list, found {symbols[: len(specials)]}")
        if PAD in specials and specials.index(PAD) != 0:
            raise ValueError(f"{PAD} must have id 0 (padding is zero-filled), found at {specials.index(PAD)}")
        index: dict[str, int] = {}
        for i, s in enumerate(symbols):
            if s in index:
                raise ValueError(f"symbol {s!r} appears twice (ids {index[s]} and {i})")
            index[s] = i
        self.symbols: list[str] = symbols
        self.specials: tuple[str, ...] = specials
        self._index = index

    @classmethod
    def build(
        cls,
        sequences: Iterable[Iterable[str]],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = SPECIALS,
    ) -> Vocab:
        """Count the symbols of ``sequences``; keep those seen ``min_freq`` times or more, at most ``max_size``
        symbols in all (specials included), most frequent first."""
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < len(specials):
            raise ValueError(f"max_size {max_size} leaves no room for the {len(specials)} special tokens")
        counts: Counter[str] = Counter()
        for seq in sequences:
            counts.update(seq)
        for s in specials:
            counts.pop(s, None)
        kept = sorted((s for s, c in counts.items() if c >= min_freq), key=lambda s: (-counts[s], s))
        if max_size is not None:
            kept = kept[: max_size - len(specials)]
        return cls([*specials, *kept], specials)

    @classmethod
    def for_labels(cls, labels: Iterable[str]) -> Vocab:
        """Class labels in sorted order, without specials (label ``i`` is output unit ``i``)."""
        return cls(sorted(set(labels)), specials=())

    def __len__(self) -> int:
        return len(self.symbols)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.symbols == other.symbols and self.specials == other.specials

    def __repr__(self) -> str:
        return f"Vocab({len(self)} symbols, specials={self.specials})"

    def _special_id(self, token: str) -> int:
        if token not in self.specials:
            raise KeyError(f"this vocabulary has no {token} token (specials: {self.specials})")
        return self._index[token]

    @property
    def pad_id(self) -> int:
        return self._special_id(PAD)

    @property
    def unk_id(self) -> int:
        return self._special_id(UNK)

    @property
    def bos_id(self) -> int:
        return self._special_id(BOS)

    @property
    def eos_id(self) -> int:
        return self._special_id(EOS)

    def id(self, symbol: str) -> int:
        """The id of ``symbol``; ``<unk>``'s id for an unseen symbol, or ``KeyError`` if there is no ``<unk>``."""
        i = self._index.get(symbol)
        if i is not None:
            return i
        if UNK in self.specials:
            return self._index[UNK]
        raise KeyError(f"symbol {symbol!r} is not in the vocabulary and it has no {UNK} token")

    def encode(self, symbols: Iterable[str], *, bos: bool = False, eos: bool = False) -> list[int]:
        if UNK in self.specials:
            get, unk = self._index.get, self._index[UNK]
            ids = [get(s, unk) for s in symbols]
        else:
            ids = [self.id(s) for s in symbols]
        return ([self.bos_id] if bos else []) + ids + ([self.eos_id] if eos else [])

    def decode(self, ids: Iterable[int], *, strip: bool = True) -> list[str]:
        """Symbols of ``ids``. With ``strip``: stop at the first ``<eos>``, drop ``<pad>`` and ``<bos>``."""
        out = []
        drop = {self._index[t] for t in (PAD, BOS) if t in self.specials}
        eos = self._index.get(EOS) if EOS in self.specials else None
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.symbols):
                raise IndexError(f"id {i} is outside the vocabulary (size {len(self.symbols)})")
            if strip and i == eos:
                break
            if strip and i in drop:
                continue
            out.append(self.symbols[i])
        return out

    def to_dict(self) -> dict:
        return {"format": _FORMAT, "version": _VERSION, "specials": list(self.specials), "symbols": self.symbols}

    @classmethod
    def from_dict(cls, d: dict, *, source: str = "vocabulary") -> Vocab:
        if d.get("format") != _FORMAT or d.get("version") != _VERSION:
            raise ValueError(f"{source}: not an {_FORMAT} version {_VERSION} file "
                             f"(format={d.get('format')!r}, version={d.get('version')!r})")
        return cls(d["symbols"], d["specials"])

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")), source=str(path))
