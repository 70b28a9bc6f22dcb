"""Help text for a config dataclass's fields, read from the comments written beside them.

rnnkit's config dataclasses give the reason for each field in a comment on its line::

    hidden_size: int = 256  # width of h_t; 256 learns cmudict in minutes

so the command line's ``--help`` shows those comments. A comment block directly above a field counts
too; a field without a comment falls back to the class docstring's ``Args:``/``Attributes:`` entry.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import textwrap
import tokenize
from functools import lru_cache

from docstring_parser import parse as parse_docstring


@lru_cache(maxsize=None)
def field_help(cls: type) -> dict[str, str]:
    """``{field name: help}`` for the dataclass ``cls`` and its dataclass bases (a subclass's comment
    wins); fields with no comment and no docstring entry are left out."""
    helps: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if dataclasses.is_dataclass(klass):
            helps.update(_docstring_help(klass))
            helps.update(_comment_help(klass))
    return helps


def _docstring_help(cls: type) -> dict[str, str]:
    parsed = parse_docstring(cls.__doc__ or "")
    return {p.arg_name: " ".join(p.description.split()) for p in parsed.params if p.description}


def _comment_help(cls: type) -> dict[str, str]:
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):  # defined in a REPL or built dynamically: no source to read
        return {}
    comments = _comments_by_line(source)
    body = ast.parse(source).body[0]
    helps: dict[str, str] = {}
    for node in getattr(body, "body", []):
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        beside = [comments[n] for n in range(node.lineno, node.end_lineno + 1) if n in comments]
        above: list[str] = []
        line = node.lineno - 1
        while line in comments and _is_comment_only(source, line):
            above.insert(0, comments[line])
            line -= 1
        text = " ".join(above + beside).strip()
        if text:
            helps[node.target.id] = text
    return helps


def _comments_by_line(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    return comments


def _is_comment_only(source: str, line: int) -> bool:
    return source.splitlines()[line - 1].lstrip().startswith("#")
