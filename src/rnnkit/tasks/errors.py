"""The errors a task raises for what a user asked, as opposed to a fault in the program.

The command line reports these as ``error: <message>`` and exits with code 2; anything else shows its
traceback, since it is a bug to fix rather than an input to correct.
"""

from __future__ import annotations


class TaskError(ValueError):
    """A request the task cannot serve: data of another kind, a split the data lacks, an unknown
    condition, an input line it cannot read, an option that does not apply to this run."""


class ConfigError(ValueError):
    """An option value a config refuses (its check says which field and why)."""
