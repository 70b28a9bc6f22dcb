import pytest

from rnnkit.data.errors import DataFormatError
from rnnkit.data.files.common import read_text, split_lines


def test_read_text_normalises_and_locates_bad_bytes(tmp_path):
    f = tmp_path / "a.txt"
    f.write_bytes(b"\xef\xbb\xbfone\r\ntwo\r\n")
    assert read_text(f) == "one\ntwo\n"
    f.write_bytes(b"ok\nalso ok\nbad \xa3 here\n")
    with pytest.raises(DataFormatError, match=r"a\.txt:3: byte 0xa3 is not UTF-8"):
        read_text(f)
    f.write_text("  \n\n")
    with pytest.raises(DataFormatError, match="empty"):
        read_text(f)
    with pytest.raises(FileNotFoundError):
        read_text(tmp_path / "none.txt")


def test_split_lines():
    assert split_lines("a\nb\n") == ["a", "b"]
    assert split_lines("a\n\nb") == ["a", "", "b"]


def test_a_folder_is_not_reported_as_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path} is a folder, not a file"):
        read_text(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_text(tmp_path / "missing.txt")
