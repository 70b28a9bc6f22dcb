"""Dataclass fields as typed options: defaults, skips, choices, and back to the dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest
from jsonargparse import ArgumentParser

from rnnkit.cli.dataclass_args import add_dataclass_options, build_dataclass
from rnnkit.tasks import ConfigError
from rnnkit.training import TrainConfig


@dataclass
class Inner:
    size: int = 3  # how big


@dataclass
class Outer:
    vocab_size: int  # set by the program
    cell: Literal["lstm", "gru"] = "lstm"  # which cell
    sizes: tuple[int, ...] = (1, 2)  # a tuple
    inner: Inner = field(default_factory=Inner)


def parser() -> ArgumentParser:
    p = ArgumentParser(exit_on_error=False)
    add_dataclass_options(p, Outer, "model", skip=("vocab_size",), defaults={"cell": "gru"})
    return p


def test_options_round_trip_to_the_dataclass():
    cfg = parser().parse_args(["--model.inner.size", "9", "--model.sizes", "[4, 5]"])
    built = build_dataclass(Outer, cfg.model.as_dict(), vocab_size=11)
    assert (built.vocab_size, built.cell, tuple(built.sizes), built.inner) == (11, "gru", (4, 5), Inner(9))


def test_choices_are_checked_and_help_is_the_comment():
    with pytest.raises(Exception, match="model.cell"):
        parser().parse_args(["--model.cell", "tcn"])
    assert "which cell" in parser().format_help()
    with pytest.raises(ValueError, match="fields it does not have"):
        add_dataclass_options(ArgumentParser(), Outer, "m", defaults={"width": 1})


def test_a_refused_value_names_its_config_once():
    with pytest.raises(ConfigError) as error:
        build_dataclass(TrainConfig, {"max_steps": -3})
    assert str(error.value) == "TrainConfig.max_steps must be at least 1, got -3"
