"""The tiny model, task and sources of toys.py, offered to the training tests as the `toys` fixture."""

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("rnnkit_training_toys", Path(__file__).with_name("toys.py"))
_toys = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_toys)


@pytest.fixture(name="toys")
def toys_fixture():
    return _toys
