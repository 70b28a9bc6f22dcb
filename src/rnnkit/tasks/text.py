"""Turning a line a user types into the tokens a model was trained on.

A model trained on lowercased words must read ``"The Cat"`` as ``the cat``; one trained on CMUdict must
read ``"Cat"`` as the letters ``c a t``. The tokenizer is chosen when the task is fitted (from the data
set, or by the user) and saved with the task, so prediction always splits text as training did.
"""

from __future__ import annotations

from typing import Literal

from rnnkit.data.tokenize import chars, sentences, words
from rnnkit.tasks.splits import Splits

Tokenizer = Literal["auto", "chars", "lower_chars", "words", "lower_words", "whitespace"]
TOKENIZERS: tuple[str, ...] = ("chars", "lower_chars", "words", "lower_words", "whitespace")

# How each built-in data set's loader splits its text (see rnnkit.data.builtin).
BUILTIN_TOKENIZERS = {
    "cmudict": "lower_chars",
    "dialogue": "lower_words",
    "shakespeare": "chars",
    "shakespeare-scenes": "lower_words",
    "bbc-news": "lower_words",
}


def resolve_tokenizer(choice: str, splits: Splits, default: str) -> str:
    """The tokenizer to use: ``choice`` unless it is ``"auto"``, then the built-in data set's, else ``default``."""
    if choice != "auto":
        if choice not in TOKENIZERS:
            raise ValueError(f"tokenizer must be 'auto' or one of {TOKENIZERS}, got {choice!r}")
        return choice
    return BUILTIN_TOKENIZERS.get(splits.name, default) if splits.builtin else default


def tokenize(text: str, tokenizer: str) -> list[str]:
    """``text`` split by ``tokenizer`` (one of :data:`TOKENIZERS`)."""
    if tokenizer == "chars":
        return chars(text)
    if tokenizer == "lower_chars":
        return chars(text.lower())
    if tokenizer == "words":
        return words(text)
    if tokenizer == "lower_words":
        return words(text, lowercase=True)
    if tokenizer == "whitespace":
        return text.split()
    raise ValueError(f"unknown tokenizer {tokenizer!r}; one of {TOKENIZERS}")


def tokenize_document(text: str, tokenizer: str, separator: str | None = None) -> list[list[str]]:
    """A document's sentences of tokens: split at ``separator`` when given, else into sentences by rule."""
    parts = text.split(separator) if separator else sentences(text)
    return [tokens for tokens in (tokenize(part.strip(), tokenizer) for part in parts) if tokens]
