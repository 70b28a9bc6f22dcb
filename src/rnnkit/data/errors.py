"""Errors raised while reading data: each names the file, the line and the problem."""

from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    """A data file that does not follow its format.

    The message reads ``<file>:<line>: <problem>`` (``<file>: <problem>`` when the problem belongs to
    the whole file), the form editors and terminals turn into a link to the offending line.
    """

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        self.path = Path(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else f"{self.path}"
        super().__init__(f"{where}: {problem}")


class DatasetNotInstalledError(FileNotFoundError):
    """A built-in data set whose package is not installed and whose files were not given as a path."""


class DataOptionError(ValueError):
    """An option the reader of a file does not take (``load_files(..., delimiter=";")`` for plain text)."""
