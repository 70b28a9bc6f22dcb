"""Help text from the comments beside dataclass fields."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.cli.field_help import field_help
from rnnkit.training import TrainConfig


@dataclass
class Base:
    """A config.

    Args:
        documented: from the docstring.
    """

    # the comment block above
    # spans two lines
    above: int = 1
    beside: int = 2  # the comment beside
    documented: int = 3
    bare: int = 4


@dataclass
class Child(Base):
    beside: int = 5  # the child's own reason


def test_comments_beside_above_and_docstring_entries():
    helps = field_help(Base)
    assert helps["above"] == "the comment block above spans two lines"
    assert helps["beside"] == "the comment beside"
    assert helps["documented"] == "from the docstring."
    assert "bare" not in helps
    assert field_help(Child)["beside"] == "the child's own reason"


def test_every_train_config_field_has_help():
    helps = field_help(TrainConfig)
    assert "peak learning rate" in helps["lr"]
    assert all(name in helps for name in TrainConfig.__dataclass_fields__)
