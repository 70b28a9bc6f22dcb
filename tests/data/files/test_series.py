import numpy as np
import pytest

from rnnkit.data.errors import DataFormatError
from rnnkit.data.files.series import is_series, read_series_csv, read_series_folder

LONG = "series,label,x,y\ns1,walk,0.1,1\ns1,walk,0.2,2\n\ns2,run,9,9\ns1b,walk,1e-3,-4\n"


def test_long_format(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text(LONG, encoding="utf-8")
    d = read_series_csv(f)
    assert [e.label for e in d.examples] == ["walk", "run", "walk"]
    np.testing.assert_array_equal(d.examples[0].values, np.array([[0.1, 1], [0.2, 2]], dtype=np.float32))
    assert d.examples[0].values.dtype == np.float32
    assert d.summary == {"rows": 4, "series": 3, "channels": 2, "blank_lines_skipped": 1}


@pytest.mark.parametrize("content, line, problem", [
    ("series,label,x\na,p,1\nb,q,2\na,p,3\n", 4, "series 'a' continues after another series began"),
    ("series,label,x\na,p,1\na,q,2\n", 3, "changes label from 'p' to 'q'"),
    ("series,label,x\na,p,one\n", 2, "column x: 'one' is not a number"),
    ("series,label,x\na,p,nan\n", 2, "not a finite number"),
    ("series,label,x\na,p\n", 2, "expected 3 fields"),
    ("id,label,x\na,p,1\n", 1, "no column 'series'"),
])
def test_long_format_errors(refuses, content, line, problem):
    refuses(read_series_csv, "bad.csv", content, line, problem)


def test_one_series_per_file(tmp_path):
    for label, rows in (("a", "c1,c2\n1,2\n3,4\n5,6\n"), ("b", "7,8\n")):
        (tmp_path / label).mkdir()
        (tmp_path / label / "001.csv").write_text(rows, encoding="utf-8")
    d = read_series_folder(tmp_path)
    assert [e.values.shape for e in d.examples] == [(3, 2), (1, 2)]
    assert [e.label for e in d.examples] == ["a", "b"]
    assert d.summary["header_rows_skipped"] == 1
    (tmp_path / "b" / "002.csv").write_text("1,2,3\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"002\.csv:1: expected 2 channels"):
        read_series_folder(tmp_path)


def test_series_are_told_from_text_by_layout(tmp_path):
    long, text = tmp_path / "s.csv", tmp_path / "t.csv"
    long.write_text(LONG, encoding="utf-8")
    text.write_text("text,label\nhello,x\n", encoding="utf-8")
    assert is_series(long) and not is_series(text) and is_series(tmp_path)
    assert is_series(tmp_path / "archive.ts")  # by its extension, before it is read
