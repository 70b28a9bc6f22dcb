"""What every reader's test of a malformed file checks: the error names the file, the line and the problem."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from rnnkit.data.errors import DataFormatError


@pytest.fixture
def refuses(tmp_path) -> Callable[..., None]:
    """``refuses(read, name, content, line, problem)``: ``read`` of a file ``name`` holding ``content``
    raises ``DataFormatError`` reading ``name:line: ...problem``."""

    def check(read: Callable[[Any], Any], name: str, content: str, line: int, problem: str) -> None:
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        with pytest.raises(DataFormatError, match=rf"{re.escape(name)}:{line}: .*{problem}"):
            read(path)

    return check
