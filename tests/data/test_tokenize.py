import pytest

from rnnkit.data.tokenize import (
    TOKENIZER_NAMES,
    chars,
    get_tokenizer,
    joiner,
    sentences,
    spaces,
    split_document,
    words,
)


def test_words_keep_contractions_numbers_and_abbreviations():
    assert words('"Don\'t," he said: $7,500 (3.5%) in the U.S.') == [
        '"', "Don't", ",", '"', "he", "said", ":", "$", "7,500", "(", "3.5", "%", ")", "in", "the", "U.S.",
    ]
    assert words("So-called O'Brien", lowercase=True) == ["so-called", "o'brien"]


def test_chars_and_spaces():
    assert chars("a b\n") == ["a", " ", "b", "\n"]
    assert spaces(" HH  AH0 L\tOW1 ") == ["HH", "AH0", "L", "OW1"]


def test_sentences_on_news_prose():
    text = ("Mr. Brown met Dr. Smith in the U.S. on Monday. Profits rose 5.5% to $1.2bn! "
            'Was it enough? "No," said J. Smith. Shares fell.\nA new paragraph')
    assert sentences(text) == [
        "Mr. Brown met Dr. Smith in the U.S. on Monday.",
        "Profits rose 5.5% to $1.2bn!",
        "Was it enough?",
        '"No," said J. Smith.',
        "Shares fell.",
        "A new paragraph",
    ]


def test_get_tokenizer_by_name():
    assert get_tokenizer("lower_words")("Hello World") == ["hello", "world"]
    assert get_tokenizer("chars")("Ab") == ["A", "b"]
    assert get_tokenizer("nonspace_chars")("to be") == ["t", "o", "b", "e"]
    assert get_tokenizer("lower_spaces")("HH AH0") == ["hh", "ah0"]
    assert all(get_tokenizer(name)("Ab c") for name in TOKENIZER_NAMES)
    assert (joiner("lower_chars"), joiner("words")) == ("", " ")
    with pytest.raises(ValueError, match="bytes"):
        get_tokenizer("bytes")


def test_documents_split_into_sentences_by_rule_or_separator():
    expected = [["it", "rained", "."], ["we", "stayed", "in", "."]]
    assert split_document("It rained. We stayed in.", "lower_words") == expected
    assert split_document("a b | c | ", "spaces", "|") == [["a", "b"], ["c"]]
