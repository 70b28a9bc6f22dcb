"""The ``rnnkit`` command line: parses typed options and calls rnnkit.tasks (see docs/CLI.md)."""
