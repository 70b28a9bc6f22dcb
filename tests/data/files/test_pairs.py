import pytest

from rnnkit.data.files.pairs import read_pairs

FRA = (
    "Go.\tVa !\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)\n"
    "Hi.\tSalut !\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #509819 (Aiji)\n"
    "\n"
    "Run!\tCours !\n"
)


def test_translation_pairs_keep_every_row_and_ignore_attribution(tmp_path):
    f = tmp_path / "fra.txt"
    f.write_text(FRA, encoding="utf-8")
    d = read_pairs(f)
    assert [(e.src, e.tgt) for e in d.examples] == [
        (("go", "."), ("va", "!")), (("hi", "."), ("salut", "!")), (("run", "!"), ("cours", "!")),
    ]
    assert d.summary == {"lines": 4, "pairs": 3, "blank_lines_skipped": 1, "extra_columns_ignored": 2}
    r = read_pairs(f, reverse=True, src_tokenizer="chars", tgt_tokenizer="words")
    assert r.examples[0].src == tuple("Va !") and r.examples[0].tgt == ("Go", ".")
    assert (r.tokenizer, r.target_tokenizer) == ("chars", "words")


def test_g2p_style_pairs_with_space_separated_phonemes(tmp_path):
    f = tmp_path / "g2p.tsv"
    f.write_text("hello\tHH AH0 L OW1\n", encoding="utf-8")
    d = read_pairs(f, src_tokenizer="chars", tgt_tokenizer="spaces")
    assert d.examples[0].tgt == ("HH", "AH0", "L", "OW1")


@pytest.mark.parametrize("bad, line, problem", [
    ("a\tb\nno tab here\n", 2, "no tab"),
    ("a\tb\nc\td\n\t x\n", 3, "empty source"),
    ("a\t \n", 1, "empty target"),
])
def test_malformed_lines_name_file_and_line(refuses, bad, line, problem):
    refuses(read_pairs, "pairs.tsv", bad, line, problem)
