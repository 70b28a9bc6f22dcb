"""Config files: YAML (jsonargparse's own format) or TOML, chosen by the file's extension.

jsonargparse reads one format per parser, and the format it reads also parses single option values, so
TOML cannot simply be switched on. Instead a ``--config FILE.toml`` on the command line is read here
with :mod:`tomllib` and handed on as the equivalent JSON text, which the YAML reader accepts.

A key the command does not take is refused here, naming the file and the closest known key
(:func:`check_config_keys`): jsonargparse, below two levels of subcommands, would only say ``'train'``.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

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


def check_config_keys(argv: Sequence[str], known: Iterable[str]) -> None:
    """Every key of every ``--config FILE`` in ``argv`` is one of ``known`` (dotted: ``model.hidden_size``).

    A key whose value is itself a mapping (``task: read: {...}``) counts as known when the key is.
    Files that do not exist or do not parse are left to the parser, which names them.
    """
    known = set(known)
    for path in _config_paths(argv):
        try:
            text = path.read_text(encoding="utf-8-sig")
            content = tomllib.loads(text) if _is_toml(str(path)) else yaml.safe_load(text)
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, yaml.YAMLError):
            continue
        if not isinstance(content, Mapping):
            continue
        for key in _unknown_keys(content, known, ""):
            close = difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.75)
            hint = f" (did you mean {' or '.join(close)}?)" if close else ""
            raise ConfigError(f"config file {path}: unknown key {key}{hint}")


def _config_paths(argv: Sequence[str]) -> list[Path]:
    paths = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "--config"]
    paths += [arg.split("=", 1)[1] for arg in argv if arg.startswith("--config=")]
    return [Path(p) for p in paths if Path(p).is_file()]


def _unknown_keys(content: Mapping[str, Any], known: set[str], prefix: str) -> list[str]:
    unknown = []
    for name, value in content.items():
        key = f"{prefix}{name}"
        if key in known:
            continue
        if isinstance(value, Mapping) and any(k.startswith(key + ".") for k in known):
            unknown += _unknown_keys(value, known, key + ".")
        else:
            unknown.append(key)
    return unknown
