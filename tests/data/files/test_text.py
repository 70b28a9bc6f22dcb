import pytest

from rnnkit.data.errors import DataFormatError
from rnnkit.data.files.text import read_text_file


def test_text_file_is_one_stream(tmp_path):
    f = tmp_path / "corpus.txt"
    f.write_text("line one\n\nline three\n", encoding="utf-8")
    d = read_text_file(f)
    assert d.examples == "line one\n\nline three\n"
    assert d.summary == {"characters": 21, "lines": 3}


def test_text_file_that_is_not_utf8_names_the_line(tmp_path):
    f = tmp_path / "latin1.txt"
    f.write_bytes("first line\nPrice: £5\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"latin1\.txt:2: byte 0xa3 is not UTF-8"):
        read_text_file(f)
