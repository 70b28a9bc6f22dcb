import pytest

from rnnkit.data.tokenize import chars, get_tokenizer, sentences, spaces, words


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


def test_get_tokenizer():
    assert get_tokenizer("words", lowercase=True)("Hello World") == ["hello", "world"]
    assert get_tokenizer("chars")("Ab") == ["A", "b"]
    with pytest.raises(ValueError, match="bytes"):
        get_tokenizer("bytes")
