"""Typed config dataclasses as command-line options, and back.

Every field of a dataclass becomes ``--PREFIX.FIELD`` with the field's type (jsonargparse checks it:
``Literal`` fields accept only their choices), its default, and the comment beside it as help. A field
whose type is itself a dataclass becomes a group ``--PREFIX.FIELD.SUB``. Fields the program fills in
itself (a model's vocabulary sizes, which come from the data) are skipped.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from jsonargparse import ArgumentParser

from rnnkit.cli.field_help import field_help
from rnnkit.tasks.errors import ConfigError


def add_dataclass_options(
    parser: ArgumentParser,
    cls: type,
    prefix: str,
    *,
    skip: Iterable[str] = (),
    defaults: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> None:
    """Add one option per field of ``cls`` under ``--{prefix}.``; ``defaults`` replaces field defaults
    (a task's sensible sizes), ``skip`` leaves fields out."""
    skip, defaults = set(skip), dict(defaults or {})
    unknown = set(defaults) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise ValueError(f"defaults for {cls.__name__} name fields it does not have: {sorted(unknown)}")
    hints = typing.get_type_hints(cls)
    helps = field_help(cls)
    group = parser.add_argument_group(title or f"{prefix} ({cls.__name__})")
    for f in dataclasses.fields(cls):
        if f.name in skip or not f.init:
            continue
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind) and isinstance(kind, type):
            add_dataclass_options(parser, kind, f"{prefix}.{f.name}", defaults=defaults.get(f.name))
            continue
        default = defaults[f.name] if f.name in defaults else _field_default(f)
        option = {"type": kind, "help": helps.get(f.name, f.name.replace("_", " "))}
        if default is dataclasses.MISSING:
            option["required"] = True
        else:
            option["default"] = default
        group.add_argument(f"--{prefix}.{f.name}", **option)


def build_dataclass(cls: type, values: Mapping[str, Any], **extra: Any) -> Any:
    """``cls(**values, **extra)``, nested dataclass fields built from nested mappings; the dataclass's
    own ``__post_init__`` validates the values, and a value it refuses is a ``ConfigError``."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in {**values, **extra}.items():
        kind = hints.get(name)
        if kind is not None and dataclasses.is_dataclass(kind) and isinstance(value, Mapping):
            value = build_dataclass(kind, value)
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except ValueError as error:  # the config's own checks: a value the user gave
        said = str(error)  # named once: "TrainConfig.lr ...", not "TrainConfig: TrainConfig.lr ..."
        raise ConfigError(said if said.startswith(f"{cls.__name__}.") else f"{cls.__name__}: {said}") from error


def _field_default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING
