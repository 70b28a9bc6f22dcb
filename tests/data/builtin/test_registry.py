import pytest

from rnnkit.data.builtin.registry import BUILTINS, get_builtin, installed_builtins, load_builtin


def test_every_builtin_is_installed_here_and_loads_with_its_documented_sizes():
    assert [b.name for b in installed_builtins()] == list(BUILTINS)
    for b in BUILTINS.values():
        d = load_builtin(b.name)
        assert d.name == b.name and d.task == b.task
        assert d.sizes() == dict(b.sizes)


def test_unknown_name():
    with pytest.raises(KeyError, match="built-ins: cmudict"):
        get_builtin("imdb")
