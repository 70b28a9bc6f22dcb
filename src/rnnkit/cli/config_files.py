"""Config files: YAML (jsonargparse's own format) or TOML, chosen by the file's extension.

jsonargparse reads one format per parser, and the format it reads also parses single option values, so
TOML cannot simply be switched on. Instead a ``--config FILE.toml`` on the command line is read here
with :mod:`tomllib` and handed on as the equivalent JSON text, which the YAML reader accepts.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Sequence
from pathlib import Path

from rnnkit.tasks.errors import ConfigError


def toml_configs_as_json(argv: Sequence[str]) -> list[str]:
    """``argv`` with every ``--config X.toml`` (or ``--config=X.toml``) replaced by its content as JSON."""
    out: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--config" and i + 1 < len(args) and _is_toml(args[i + 1]):
            out += ["--config", read_toml(args[i + 1])]
            i += 2
            continue
        if arg.startswith("--config=") and _is_toml(arg.split("=", 1)[1]):
            out.append("--config=" + read_toml(arg.split("=", 1)[1]))
        else:
            out.append(arg)
        i += 1
    return out


def read_toml(path: str | Path) -> str:
    """The TOML file at ``path`` as JSON text; a syntax error names the file, line and column."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist")
    try:
        return json.dumps(tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None


def _is_toml(value: str) -> bool:
    return value.lower().endswith(".toml")
