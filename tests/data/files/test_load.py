import pytest

from rnnkit.data.errors import DataOptionError
from rnnkit.data.files.load import load_files, reader_options


def test_classification_carves_validation_by_content_hash(tmp_path):
    f = tmp_path / "train.csv"
    f.write_text("text,label\n" + "".join(f"sample number {i},{'ab'[i % 2]}\n" for i in range(200)),
                 encoding="utf-8")
    d = load_files("classification", f)
    assert d.sizes() == {"train": 180, "valid": 20}
    assert d.labels == ("a", "b") and d.summary["rows"] == 200
    assert load_files("classification", f).splits == d.splits  # deterministic


def test_separate_files_are_summed_and_language_model_split_by_position(tmp_path):
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    a.write_text("x\ty\n\n", encoding="utf-8")
    b.write_text("p\tq\n", encoding="utf-8")
    d = load_files("seq2seq", a, valid=b)
    assert d.sizes() == {"train": 1, "valid": 1} and d.summary["blank_lines_skipped"] == 1
    t = tmp_path / "t.txt"
    t.write_text("0123456789", encoding="utf-8")
    lm = load_files("language-model", t, valid_fraction=0.2)
    assert (lm["train"], lm["valid"]) == ("01234567", "89")


def test_generation_tagging_and_series(tmp_path):
    f = tmp_path / "g.csv"
    f.write_text("text,label\nhello world,greet\n", encoding="utf-8")
    g = load_files("generation", f, valid_fraction=0)
    assert g["train"][0].condition == "greet" and g["train"][0].tokens == ("hello", "world")
    c = tmp_path / "c.conll"
    c.write_text("a X\nb Y\n\nc X\n", encoding="utf-8")
    assert sum(load_files("tagging", c, valid_fraction=0.5).sizes().values()) == 2
    s = tmp_path / "s.csv"
    s.write_text("series,label,v\n1,a,0\n2,b,1\n", encoding="utf-8")
    assert load_files("series-classification", s, valid_fraction=0).labels == ("a", "b")
    with pytest.raises(ValueError, match="unknown task"):
        load_files("regression", s)


def test_validation_and_test_are_held_out_unless_given_as_files(tmp_path):
    f = tmp_path / "pairs.tsv"
    f.write_text("".join(f"word{i}\tmot{i}\n" for i in range(100)), encoding="utf-8")
    d = load_files("seq2seq", f, valid_fraction=0.1, test_fraction=0.1)
    assert d.sizes() == {"train": 80, "valid": 10, "test": 10}
    assert (d.tokenizer, d.target_tokenizer) == ("lower_words", "lower_words")
    assert not {e.src for e in d["train"]} & {e.src for e in d["test"]}
    t = tmp_path / "test.tsv"
    t.write_text("a\tb\n", encoding="utf-8")
    assert load_files("seq2seq", f, test=t, test_fraction=0.1).sizes() == {"train": 90, "valid": 10, "test": 1}
    text = tmp_path / "t.txt"
    text.write_text("0123456789", encoding="utf-8")
    lm = load_files("language-model", text, valid_fraction=0.2, test_fraction=0.1)
    assert (lm["train"], lm["valid"], lm["test"], lm.tokenizer) == ("0123456", "78", "9", "chars")


def test_an_option_the_reader_does_not_take_is_named(tmp_path):
    f = tmp_path / "t.txt"
    f.write_text("text", encoding="utf-8")
    with pytest.raises(DataOptionError, match="language-model reader takes no option delimiter; it takes none"):
        load_files("language-model", f, delimiter=";")
    assert "text_column" in reader_options("classification") and "tag_column" in reader_options("tagging")
    c = tmp_path / "c.conll"
    c.write_text("a X\n", encoding="utf-8")
    with pytest.raises(DataOptionError, match="tagging reader takes no option tokenizer"):
        load_files("tagging", c, tokenizer="chars")
