"""Japanese Vowels: nine speakers saying /ae/, as 12-channel series of 7 to 29 steps; classify the speaker.

Source: ``aeon/datasets/data/JapaneseVowels/JapaneseVowels_{TRAIN,TEST}.ts`` shipped in the ``aeon``
package (read as files; the package is never imported). Each step is 12 LPC cepstrum coefficients of a
frame of the recording (Kudo, Toyama & Shimbo, 1999, UCI archive). Classes ``1`` to ``9``.

Split: the archive's own, 270 training series (30 per speaker) and 370 test series (24 to 88 per
speaker). The archive has no validation split; ``valid=`` takes one from the training series per
speaker (a count or fraction, by ``blake2b("japanese-vowels/<index>")``); the default keeps the
archive's 270/370.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..dataset import Dataset
from ..errors import DataFormatError
from ..examples import SeriesExample
from ..files.ts import read_ts
from ..split import split_items
from .locate import resolve


@functools.lru_cache(maxsize=4)
def _load(root: Path, valid: float | int) -> Dataset:
    parts = {}
    counts = dict(comment_lines=0)
    for split, suffix in (("train", "TRAIN"), ("test", "TEST")):
        file = root / f"JapaneseVowels_{suffix}.ts"
        if not file.exists():
            raise DataFormatError(root, None, f"missing {file.name}")
        ts = read_ts(file)
        counts["comment_lines"] += ts.comment_lines
        parts[split] = tuple(SeriesExample(s, y) for s, y in zip(ts.series, ts.labels))
    splits = dict(parts)
    if valid:
        index = {id(e): str(i) for i, e in enumerate(parts["train"])}
        held = split_items(parts["train"], lambda e: index[id(e)], valid=valid, test=0,
                           salt="japanese-vowels", stratum=lambda e: e.label)
        splits = {"train": held["train"], "valid": held["valid"], "test": parts["test"]}
    labels = tuple(sorted({e.label for e in parts["train"]}, key=int))
    return Dataset("japanese-vowels", "series-classification", splits, counts, labels)


def load_japanese_vowels(path: str | Path | None = None, *, valid: float | int = 0) -> Dataset:
    """``SeriesExample``s with ``values`` (T, 12); ``path``: a folder holding the two ``.ts`` files."""
    root = resolve(path, "aeon", "datasets", "data", "JapaneseVowels", pip="aeon==1.6.0")
    return _load(root, valid)
