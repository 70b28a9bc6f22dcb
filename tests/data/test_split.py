import pytest

from rnnkit.data.split import hash_split, split_items, stable_hash


def test_stable_hash_is_fixed():
    # The split of every built-in data set depends on these values staying the same forever.
    assert stable_hash("hello", "cmudict") == stable_hash("hello", "cmudict")
    assert stable_hash("hello", "cmudict") != stable_hash("hello", "dialogue")
    assert stable_hash("abc", "") == int.from_bytes(
        __import__("hashlib").blake2b(b"/abc", digest_size=8).digest(), "big"
    )


def test_hash_split_counts_and_fractions():
    keys = [f"k{i}" for i in range(1000)]
    side = hash_split(keys, valid=50, test=100, salt="t")
    assert sum(v == "test" for v in side.values()) == 100
    assert sum(v == "valid" for v in side.values()) == 50
    side = hash_split(keys, valid=0.1, test=0.2, salt="t")
    assert sum(v == "test" for v in side.values()) == 200
    with pytest.raises(ValueError, match="cannot hold out"):
        hash_split(keys[:10], valid=6, test=6, salt="t")


def test_split_does_not_depend_on_order_and_moves_few_when_keys_are_added():
    keys = [f"k{i}" for i in range(1000)]
    a = hash_split(keys, valid=0, test=100, salt="t")
    b = hash_split(list(reversed(keys)), valid=0, test=100, salt="t")
    assert a == b
    c = hash_split(keys + [f"new{i}" for i in range(10)], valid=0, test=100, salt="t")
    assert sum(a[k] != c[k] for k in keys) <= 10


def test_split_items_groups_keys_and_stratifies():
    items = [(f"w{i // 2}", "a" if i % 4 < 2 else "b") for i in range(400)]  # each key twice
    out = split_items(items, key=lambda x: x[0], valid=0.1, test=0.1, salt="t", stratum=lambda x: x[1])
    assert sum(len(v) for v in out.values()) == len(items)
    sides = {}
    for s, v in out.items():
        for k, _ in v:
            assert sides.setdefault(k, s) == s  # both copies of a key on one side
    for s in ("valid", "test"):
        labels = [y for _, y in out[s]]
        assert labels.count("a") == labels.count("b") == 20
