import re

import pytest

from rnnkit.data.builtin.cmudict import _file, load_cmudict
from rnnkit.data.errors import DataFormatError


@pytest.fixture(scope="module")
def cmu():
    return load_cmudict()


def _words(examples):
    return {"".join(e.src) for e in examples}


def test_sizes_and_filtering(cmu):
    s = cmu.summary
    assert 130_000 < s["lines"] < 140_000
    assert s["pronunciations"] == sum(cmu.sizes().values())
    assert s["lines"] == s["pronunciations"] + s["non_letter_entries_dropped"] + s["duplicate_pronunciations_merged"]
    assert s["non_letter_entries_dropped"] > 1000 and s["comments_removed"] > 0
    for e in cmu["train"][:5000]:
        assert re.fullmatch(r"[a-z']+", "".join(e.src))
        assert not any(ch.isdigit() for p in e.tgt for ch in p)  # stress removed by default


def test_exactly_12000_test_words_disjoint_from_the_rest(cmu):
    train, valid, test = (_words(cmu[s]) for s in ("train", "valid", "test"))
    assert len(test) == 12_000 and len(valid) == 3_000
    assert not (train & test) and not (train & valid) and not (valid & test)
    assert len(train | valid | test) == cmu.summary["words"]


def test_references_hold_every_pronunciation(cmu):
    refs = {**cmu.references("train"), **cmu.references("valid"), **cmu.references("test")}
    assert set(refs[tuple("hello")]) == {("HH", "AH", "L", "OW"), ("HH", "EH", "L", "OW")}
    test_refs = cmu.references("test")
    assert len(test_refs) == 12_000
    assert sum(len(v) for v in test_refs.values()) == len(cmu["test"])
    assert any(len(v) > 1 for v in test_refs.values())


def test_split_does_not_depend_on_file_order_and_stress_is_kept_on_request(tmp_path, cmu):
    lines = _file(None).read_text(encoding="utf-8").splitlines()
    (tmp_path / "cmudict.dict").write_text("\n".join(reversed(lines)) + "\n", encoding="utf-8")
    rev = load_cmudict(tmp_path, stress=True)  # a folder holding cmudict.dict
    assert _words(rev["test"]) == _words(cmu["test"])
    assert _words(rev["valid"]) == _words(cmu["valid"])
    refs = {**rev.references("train"), **rev.references("valid"), **rev.references("test")}
    assert ("HH", "AH0", "L", "OW1") in refs[tuple("hello")]


def test_local_copy_and_malformed_entry(tmp_path):
    f = tmp_path / "mini.dict"
    f.write_text("read R IY1 D\nread(2) R EH1 D\na.m. EY2 EH1 M\naalto AA1 L T OW2 # name, finnish\n\n"
                 "hello HH AH0 L OW1\nhello(2) HH EH0 L OW1\n", encoding="utf-8")
    d = load_cmudict(f, test_words=1, valid_words=1)
    assert d.summary["non_letter_entries_dropped"] == 1
    assert d.summary["comments_removed"] == 1 and d.summary["blank_lines"] == 1
    assert d.summary["words"] == 3 and d.summary["pronunciations"] == 5
    (tmp_path / "bad.dict").write_text("read R IY1 D\nfoo F UX1\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"bad\.dict:2: unknown phoneme 'UX1'"):
        load_cmudict(tmp_path / "bad.dict")
