import numpy as np
import pytest

from rnnkit.data.errors import DataFormatError
from rnnkit.data.files.ts import read_ts

HEAD = "#comment\n@problemName T\n@univariate false\n@dimensions 2\n@equalLength false\n@classLabel true a b\n@data\n"


def test_variable_length_multichannel(tmp_path):
    f = tmp_path / "t.ts"
    f.write_text(HEAD + "1,2,3:4,5,6:a\n7:8:b\n", encoding="utf-8")
    ts = read_ts(f)
    assert ts.labels == ("a", "b") and ts.comment_lines == 1
    np.testing.assert_array_equal(ts.series[0], np.array([[1, 4], [2, 5], [3, 6]], dtype=np.float32))
    assert ts.series[1].shape == (1, 2)


@pytest.mark.parametrize("data, problem", [
    ("1,2:3:a\n", "channels of one case differ in length"),
    ("1,2:a\n", "expected 2 channels, found 1"),
    ("1,?:3,4:a\n", "missing value"),
    ("1,x:3,4:a\n", "channel 1: could not convert"),
    ("1:2:c\n", "class 'c' is not declared"),
])
def test_malformed_cases(tmp_path, data, problem):
    f = tmp_path / "bad.ts"
    f.write_text(HEAD + "1:2:a\n" + data, encoding="utf-8")
    with pytest.raises(DataFormatError, match=rf"bad\.ts:9: .*{problem}"):
        read_ts(f)


def test_no_data_section(tmp_path):
    f = tmp_path / "h.ts"
    f.write_text("@problemName T\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match="no @data"):
        read_ts(f)
