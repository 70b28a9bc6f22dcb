"""Fixed splits chosen by hashing: stable across library versions, machines and data-file order.

Each key (a word, a file name, a prompt) gets the number ``blake2b("<salt>/<key>")``; keys are ranked by
it and the first ``test`` of them form the test split, the next ``valid`` the validation split, the rest
the training split. A key's side depends only on its own hash and on how many keys rank before it, so
adding a few entries to a source moves at most a few others; and everything that shares a key (all
pronunciations of one word, all replies to one prompt) lands on the same side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Iterable, Sequence
from typing import Callable, TypeVar

T = TypeVar("T")
SPLITS = ("train", "valid", "test")


def stable_hash(key: str, salt: str = "") -> int:
    """A 64-bit hash that, unlike ``hash()``, is the same in every process and Python version."""
    return int.from_bytes(hashlib.blake2b(f"{salt}/{key}".encode(), digest_size=8).digest(), "big")


def _count(size: float | int, n: int, what: str) -> int:
    if isinstance(size, float):
        if not 0.0 <= size < 1.0:
            raise ValueError(f"{what} fraction must be in [0, 1), got {size}")
        return round(size * n)
    if size < 0:
        raise ValueError(f"{what} size must be >= 0, got {size}")
    return size


def hash_split(keys: Iterable[str], *, valid: float | int, test: float | int, salt: str) -> dict[str, str]:
    """Map each distinct key to ``"train"``, ``"valid"`` or ``"test"``. ``valid``/``test``: a count of
    keys (int) or a fraction of them (float)."""
    ranked = sorted(set(keys), key=lambda k: (stable_hash(k, salt), k))
    n_test = _count(test, len(ranked), "test")
    n_valid = _count(valid, len(ranked), "valid")
    if n_test + n_valid > len(ranked):
        raise ValueError(f"cannot hold out {n_test} test and {n_valid} validation keys from {len(ranked)}")
    side = {}
    for i, k in enumerate(ranked):
        side[k] = "test" if i < n_test else "valid" if i < n_test + n_valid else "train"
    return side


def split_items(
    items: Sequence[T],
    key: Callable[[T], str],
    *,
    valid: float | int,
    test: float | int,
    salt: str,
    stratum: Callable[[T], Hashable] | None = None,
) -> dict[str, tuple[T, ...]]:
    """Split ``items`` by the hash of ``key(item)``. With ``stratum``, each stratum (e.g. each class) is
    split on its own with the same fractions, so every class keeps its share in every split."""
    keys = [key(it) for it in items]
    groups: dict[Hashable, list[str]] = {}
    for it, k in zip(items, keys):
        groups.setdefault(stratum(it) if stratum else None, []).append(k)
    side: dict[str, str] = {}
    for members in groups.values():
        side.update(hash_split(members, valid=valid, test=test, salt=salt))
    out: dict[str, list[T]] = {s: [] for s in SPLITS}
    for it, k in zip(items, keys):
        out[side[k]].append(it)
    return {s: tuple(v) for s, v in out.items() if v or s == "train"}
