"""One example of each task, as read from files: tokens are strings, not yet ids.

Examples are frozen so that loaders can cache parsed data sets in-process and hand the same objects to
every caller. A vocabulary turns them into ids when batches are built (``rnnkit.data.encode``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Tokens = tuple[str, ...]


@dataclass(frozen=True)
class ClassificationExample:
    """Many-to-one: a token sequence and its class."""

    tokens: Tokens
    label: str


@dataclass(frozen=True, eq=False)
class SeriesExample:
    """Many-to-one on real values: ``values`` is a float32 array (T, C) of T steps and C channels."""

    values: np.ndarray
    label: str


@dataclass(frozen=True)
class TaggingExample:
    """Synchronous many-to-many: one tag per token (``len(tags) == len(tokens)``)."""

    tokens: Tokens
    tags: Tokens


@dataclass(frozen=True)
class Seq2SeqExample:
    """Many-to-many of different lengths: a source sequence and its target sequence."""

    src: Tokens
    tgt: Tokens


@dataclass(frozen=True)
class GenerationExample:
    """One-to-many: a condition (a symbol such as a class name) and the sequence generated from it."""

    condition: str
    tokens: Tokens


@dataclass(frozen=True)
class DocumentExample:
    """A document as sentences of words, with its class (hierarchical classification)."""

    sentences: tuple[Tokens, ...]
    label: str
