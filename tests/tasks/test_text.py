"""Tokenizers for prediction input, chosen as the training data was tokenized."""

from __future__ import annotations

import pytest

from rnnkit.tasks.splits import Splits
from rnnkit.tasks.text import resolve_tokenizer, tokenize, tokenize_document


def test_each_tokenizer():
    assert tokenize("Cat", "lower_chars") == ["c", "a", "t"]
    assert tokenize("Don't stop.", "lower_words") == ["don't", "stop", "."]
    assert tokenize("a  b", "whitespace") == ["a", "b"]
    assert tokenize("ab", "chars") == ["a", "b"]
    with pytest.raises(ValueError, match="unknown tokenizer 'bytes'"):
        tokenize("x", "bytes")


def test_auto_follows_the_builtin_data_set_and_falls_back_for_files():
    builtin = Splits("cmudict", True, "seq2seq", ())
    assert resolve_tokenizer("auto", builtin, "whitespace") == "lower_chars"
    assert resolve_tokenizer("auto", Splits("cmudict", False, "seq2seq", ()), "whitespace") == "whitespace"
    assert resolve_tokenizer("words", builtin, "whitespace") == "words"


def test_documents_split_into_sentences_by_rule_or_separator():
    expected = [["it", "rained", "."], ["we", "stayed", "in", "."]]
    assert tokenize_document("It rained. We stayed in.", "lower_words") == expected
    assert tokenize_document("a b | c", "whitespace", "|") == [["a", "b"], ["c"]]
