"""Checks shared by the models' config dataclasses: each failure names the field and the bad value."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def check_positive(config: object, *fields: str) -> None:
    """Every named field is an int greater than 0."""
    for field in fields:
        value = getattr(config, field)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{type(config).__name__}.{field} must be a positive int, got {value!r}")


def check_positive_or_none(config: object, *fields: str) -> None:
    """Every named field is None (not used) or an int greater than 0."""
    check_positive(config, *(field for field in fields if getattr(config, field) is not None))


def check_padding_idx(config: object, *vocab_fields: str) -> None:
    """``config.padding_idx`` is a row of every named vocabulary (a vocabulary left None is not checked)."""
    value = config.padding_idx
    for field in vocab_fields:
        size = getattr(config, field)
        if size is not None and not 0 <= value < size:
            raise ValueError(f"{type(config).__name__}.padding_idx must be in [0, {field}={size}), got {value!r}")


def check_choice(config: object, field: str, choices: Iterable[Any]) -> None:
    """The field's value is one of ``choices``."""
    value, choices = getattr(config, field), tuple(choices)
    if value not in choices:
        raise ValueError(f"{type(config).__name__}.{field} must be one of {choices}, got {value!r}")


def check_probability(config: object, field: str) -> None:
    """The field is a probability in [0, 1) (a dropout rate of 1 would drop everything)."""
    value = getattr(config, field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{type(config).__name__}.{field} must be in [0, 1), got {value!r}")


def check_exactly_one(config: object, *fields: str) -> None:
    """Exactly one of the named fields is set (not None), e.g. token input or real-valued input."""
    given = [field for field in fields if getattr(config, field) is not None]
    if len(given) != 1:
        names = " or ".join(fields)
        found = ", ".join(f"{f}={getattr(config, f)!r}" for f in fields)
        raise ValueError(f"{type(config).__name__}: set exactly one of {names}, got {found}")
