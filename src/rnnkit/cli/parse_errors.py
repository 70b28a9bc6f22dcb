"""Command-line mistakes said in the user's words: the option as typed, the closest real one.

jsonargparse reports a mistake in its own terms: a misspelled ``--model.hiden_size`` is an
"unrecognized argument", a missing ``--run`` is the required key ``train.classify.run``, a bad choice
is a ``typing.Literal[...]``; and before the message it prints the usage line of the whole command,
which for ``rnnkit train TASK`` is eighty options long. :func:`explain` rewrites the message to name
the option as the user types it (with the closest known options for a misspelling) and
:func:`command_of` names the command whose ``--help`` lists the options.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from jsonargparse import ArgumentParser

UNRECOGNIZED = "unrecognized arguments: "
REQUIRED = "the following arguments are required: "


def command_of(parser: ArgumentParser, argv: Sequence[str]) -> tuple[list[str], ArgumentParser]:
    """The subcommand words in ``argv`` (``["train", "classify"]``) and the parser that reads the rest."""
    words: list[str] = []
    for arg in argv:
        subcommands = getattr(parser, "_subcommands_action", None)
        if subcommands is None or arg.startswith("-"):
            break
        if arg not in subcommands._name_parser_map:
            break
        words.append(arg)
        parser = subcommands._name_parser_map[arg]
    return words, parser


def explain(message: str, parser: ArgumentParser, words: Sequence[str]) -> str:
    """``message`` from jsonargparse about the options of ``parser`` (the command ``words``), restated."""
    if message.startswith(UNRECOGNIZED):
        return _unrecognized(message[len(UNRECOGNIZED):].split(), parser)
    if message.startswith(REQUIRED):
        keys = message[len(REQUIRED):].split(", ")
        return "missing " + ", ".join(_as_typed(key, parser, words) for key in keys)
    subcommand = re.match(r'expected "([^"]+)" to be one of .*, but it was not provided', message)
    if subcommand:
        choices = getattr(parser, "_subcommands_action", None)
        names = ", ".join(choices._name_parser_map) if choices else ""
        return f"missing {subcommand.group(1).rsplit('.', 1)[-1].upper()}: one of {names}"
    key = re.match(r'Parser key "([^"]+)":\s*', message)
    if key:
        return f"{_as_typed(key.group(1), parser, words)}: {_expected(message[key.end():])}"
    return message


def _expected(detail: str) -> str:
    """jsonargparse's account of a value of the wrong type, as ``expected TYPE, got VALUE``."""
    given = re.search(r"Got value: (.*)|Given value: (.*)", detail)
    value = next((g for g in given.groups() if g is not None), "") if given else ""
    choices = re.search(r"typing\.Literal\[([^\]]*)\]", detail)
    subtypes = re.search(r"Subtypes: \[([^\]]*)\]", detail)
    if choices:
        wanted = "one of " + choices.group(1).replace("'", "")
    elif subtypes:
        wanted = " or ".join(re.findall(r"<class '(\w+)'>", subtypes.group(1))).replace("NoneType", "null")
    else:
        expected = re.search(r"Expected a <class '(\w+)'>", detail)
        if not expected or not given:
            return detail
        wanted = expected.group(1)
    return f"expected {wanted}, got {value!r}" if given else f"expected {wanted}"


def _unrecognized(args: list[str], parser: ArgumentParser) -> str:
    known = [s for action in parser._actions for s in action.option_strings if s.startswith("--")]
    unknown = [a.split("=", 1)[0] for a in args if a.startswith("-")]
    if not unknown:
        return f"unexpected {' '.join(args)}"
    said = []
    for option in unknown:
        close = difflib.get_close_matches(option, known, n=3, cutoff=0.75)
        said.append(f"{option} (did you mean {' or '.join(close)}?)" if close else option)
    return f"unknown option{'s' if len(said) > 1 else ''} " + ", ".join(said)


def _as_typed(key: str, parser: ArgumentParser, words: Sequence[str]) -> str:
    """``train.classify.run`` -> ``--run``; a positional argument ``eval.run`` -> ``RUN``."""
    prefix = ".".join(words) + "."
    name = key[len(prefix):] if key.startswith(prefix) else key
    positional = any(action.dest == name and not action.option_strings for action in parser._actions)
    return name.upper() if positional else f"--{name}"
