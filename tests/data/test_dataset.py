import pytest

from rnnkit.data.dataset import Dataset
from rnnkit.data.examples import ClassificationExample, Seq2SeqExample


def test_references_group_every_target_of_a_source():
    ex = (Seq2SeqExample(("a",), ("X",)), Seq2SeqExample(("b",), ("Y",)), Seq2SeqExample(("a",), ("Z",)))
    d = Dataset("t", "seq2seq", {"train": ex}, {"lines": 3})
    assert d.references("train") == {("a",): [("X",), ("Z",)], ("b",): [("Y",)]}
    assert "lines: 3" in d.describe() and "train: 3" in d.describe()


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown task"):
        Dataset("t", "regression", {"train": ()})
    with pytest.raises(ValueError, match="no 'train'"):
        Dataset("t", "seq2seq", {"test": ()})
    d = Dataset("t", "classification", {"train": (ClassificationExample(("a",), "x"),)})
    with pytest.raises(KeyError, match="no split 'valid'"):
        d["valid"]
    with pytest.raises(TypeError, match="seq2seq"):
        d.references("train")
