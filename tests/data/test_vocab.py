import pytest

from rnnkit.data.vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocab


def test_build_orders_specials_then_frequency_then_symbol():
    v = Vocab.build([list("abracadabra")])
    assert v.symbols[:4] == [PAD, UNK, BOS, EOS]
    assert v.pad_id == 0
    # a:5, b:2, r:2, c:1, d:1 -> ties broken by the symbol
    assert v.symbols[4:] == ["a", "b", "r", "c", "d"]


def test_min_freq_and_max_size():
    seqs = [["x"] * 3 + ["y"] * 2 + ["z"]]
    assert Vocab.build(seqs, min_freq=2).symbols[4:] == ["x", "y"]
    assert len(Vocab.build(seqs, max_size=5)) == 5
    assert Vocab.build(seqs, max_size=5).symbols[4:] == ["x"]
    with pytest.raises(ValueError, match="max_size"):
        Vocab.build(seqs, max_size=2)


def test_encode_decode_unknown_and_specials():
    v = Vocab.build([["the", "cat"]])
    ids = v.encode(["the", "dog", "cat"], bos=True, eos=True)
    assert ids[0] == v.bos_id and ids[-1] == v.eos_id
    assert ids[2] == v.unk_id
    assert v.decode(ids) == ["the", UNK, "cat"]
    assert v.decode(ids + [v.pad_id, v.id("cat")]) == ["the", UNK, "cat"]  # stops at <eos>
    assert v.decode(ids, strip=False) == [BOS, "the", UNK, "cat", EOS]


def test_labels_have_no_specials_and_reject_unknown():
    v = Vocab.for_labels(["tech", "sport", "tech", "business"])
    assert v.symbols == ["business", "sport", "tech"]
    assert v.id("sport") == 1
    with pytest.raises(KeyError, match="politics"):
        v.id("politics")
    with pytest.raises(KeyError, match="<pad>"):
        v.pad_id


def test_json_round_trip(tmp_path):
    v = Vocab.build([list("héllo wörld"), ["AH", "<unk>"]], specials=(PAD, UNK))
    v.save(tmp_path / "v.json")
    w = Vocab.load(tmp_path / "v.json")
    assert w == v and w.specials == (PAD, UNK)
    assert w.encode(list("wö")) == v.encode(list("wö"))


def test_load_rejects_other_json(tmp_path):
    (tmp_path / "x.json").write_text('{"symbols": ["a"]}')
    with pytest.raises(ValueError, match="x.json"):
        Vocab.load(tmp_path / "x.json")


def test_invalid_construction():
    with pytest.raises(ValueError, match="twice"):
        Vocab([*SPECIALS, "a", "a"])
    with pytest.raises(ValueError, match="id 0"):
        Vocab([UNK, PAD], specials=(UNK, PAD))
