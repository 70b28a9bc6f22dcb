from rnnkit.data.files.text import read_text_file


def test_text_file_is_one_stream(tmp_path):
    f = tmp_path / "corpus.txt"
    f.write_text("line one\n\nline three\n", encoding="utf-8")
    d = read_text_file(f)
    assert d.examples == "line one\n\nline three\n"
    assert d.summary == {"characters": 21, "lines": 3}
