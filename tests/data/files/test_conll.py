import pytest

from rnnkit.data.files.conll import read_conll

CONLL03 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC


Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER
"""


def test_conll2003_reads_every_token(tmp_path):
    f = tmp_path / "train.txt"
    f.write_text(CONLL03, encoding="utf-8")
    d = read_conll(f)
    assert [(e.tokens, e.tags) for e in d.examples] == [
        (("EU", "rejects", "German"), ("B-ORG", "O", "B-MISC")),
        (("Peter", "Blackburn"), ("B-PER", "I-PER")),
    ]
    assert d.summary["tokens"] == 5 and d.summary["docstart_lines_skipped"] == 1
    assert d.summary["extra_blank_lines_skipped"] == 2  # after -DOCSTART-, and the doubled blank line
    chunks = read_conll(f, tag_column=2)
    assert chunks.examples[0].tags == ("B-NP", "B-VP", "B-NP")


def test_comments_on_request(tmp_path):
    f = tmp_path / "u.conllu"
    f.write_text("# sent_id = 1\nHello\tINTJ\n", encoding="utf-8")
    d = read_conll(f, comment_prefix="#", delimiter="\t")
    assert d.examples[0].tags == ("INTJ",) and d.summary["comment_lines_skipped"] == 1


@pytest.mark.parametrize("content, line, problem", [
    ("EU B-ORG\nrejects\n", 2, "expected 2 columns like the first token line, found 1"),
    ("EU\n", 1, "expected at least a token and a tag"),
    ("a b c\n\nx y\n", 3, "expected 3 columns"),
])
def test_malformed_lines_name_file_and_line(refuses, content, line, problem):
    refuses(read_conll, "bad.conll", content, line, problem)
