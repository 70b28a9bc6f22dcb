import pytest

from rnnkit.data.errors import DataFormatError
from rnnkit.data.files.labelled import read_conditioned, read_labelled, read_labelled_documents


def test_csv_with_detected_header_and_quoted_fields(tmp_path):
    f = tmp_path / "reviews.csv"
    f.write_text('id,review,sentiment\n1,"Great, really great.",pos\n\n2,"Bad.\nVery bad.",neg\n', encoding="utf-8")
    d = read_labelled(f)
    assert [(e.tokens, e.label) for e in d.examples] == [
        (("great", ",", "really", "great", "."), "pos"), (("bad", ".", "very", "bad", "."), "neg"),
    ]
    assert d.summary == {"rows": 2, "header_rows": 1, "blank_lines_skipped": 1}


def test_tsv_without_header_and_explicit_columns(tmp_path):
    f = tmp_path / "data.tsv"
    f.write_text("sport\tGoal in the last minute.\ntech\tNew phone out.\n", encoding="utf-8")
    d = read_labelled(f, text_column=1, label_column=0, tokenizer="words")
    assert d.summary["header_rows"] == 0 and len(d.examples) == 2
    assert d.examples[1].tokens == ("New", "phone", "out", ".") and d.examples[1].label == "tech"
    assert d.tokenizer == "words"
    g = tmp_path / "named.csv"
    g.write_text("body,topic\nHello there.,x\n", encoding="utf-8")
    assert read_labelled(g, text_column="body", label_column="topic").examples[0].label == "x"


def test_documents_view_cuts_sentences(tmp_path):
    f = tmp_path / "docs.csv"
    f.write_text('text,label\n"First one. Second one! Third?",a\n', encoding="utf-8")
    d = read_labelled_documents(f)
    assert d.examples[0].sentences == (("first", "one", "."), ("second", "one", "!"), ("third", "?"))
    assert d.summary["sentences"] == 3
    g = tmp_path / "docs.tsv"
    g.write_text("a b | c\tx\n", encoding="utf-8")
    assert read_labelled_documents(g, separator="|", tokenizer="spaces").examples[0].sentences == (("a", "b"), ("c",))


def test_tsv_quotes_are_text_and_every_line_is_a_row(tmp_path):
    f = tmp_path / "quotes.tsv"
    f.write_text('"Hello," he said.\tpos\nShe said "no\tneg\n', encoding="utf-8")
    d = read_labelled(f, tokenizer="spaces")
    assert [e.tokens[0] for e in d.examples] == ['"Hello,"', "She"] and d.summary["rows"] == 2


def test_conditioned_text_puts_the_condition_first(tmp_path):
    f = tmp_path / "lines.tsv"
    f.write_text("hamlet\tTo be, or not to be.\n\nmacbeth\tOut, damned spot!\n", encoding="utf-8")
    d = read_conditioned(f, tokenizer="lower_chars")
    assert [e.condition for e in d.examples] == ["hamlet", "macbeth"] and d.examples[0].tokens[:2] == ("t", "o")
    assert d.summary["blank_lines_skipped"] == 1 and d.tokenizer == "lower_chars"
    g = tmp_path / "named.csv"
    g.write_text("text,condition\nhello there,greet\n", encoding="utf-8")
    assert read_conditioned(g).examples[0].condition == "greet"


@pytest.mark.parametrize("content, line, problem", [
    ("text,label\na,x\nb,y,extra\n", 3, "expected 2 fields, found 3"),
    ("text,label\na,x\n,y\n", 3, "empty text"),
    ("text,label\na,\n", 2, "empty label"),
    ("only one column\n", 1, "at least a text and a label"),
])
def test_malformed_rows_name_file_and_line(refuses, content, line, problem):
    refuses(read_labelled, "bad.csv", content, line, problem)


def test_header_without_known_names(tmp_path):
    f = tmp_path / "h.csv"
    f.write_text("words,tag\na,x\n", encoding="utf-8")
    assert len(read_labelled(f).examples) == 2  # not recognised as a header: read as data, nothing lost
    with pytest.raises(DataFormatError, match=r"h\.csv:1: cannot tell which column holds the text"):
        read_labelled(f, header=True)


def test_named_column_without_header(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="no text column named 'body'"):
        read_labelled(f, header=True, text_column="body", label_column=1)
