"""Reading data for a task: built-in views, limits, a user's files, located errors."""

from __future__ import annotations

import pytest

from rnnkit.data import DataFormatError, DataOptionError, TaggingExample
from rnnkit.tasks import TaskError
from rnnkit.tasks.splits import read_splits, spread


def test_word_segmentation_view_tags_the_first_letter_of_each_word():
    splits = read_splits("builtin:shakespeare", "tag", limit=50)
    assert splits.kind == "tagging" and len(splits.train) == 50
    for example in splits.train:
        assert " " not in example.tokens and len(example.tokens) == len(example.tags)
        assert example.tags[0] == "B" and set(example.tags) <= {"B", "I"}


def test_speeches_view_conditions_each_speech_on_its_play():
    splits = read_splits("builtin:shakespeare-scenes", "generate", limit=30)
    assert splits.kind == "generation" and len(splits.train) == 30
    assert all(e.condition in splits.labels and e.tokens for e in splits.train)


def test_limit_cuts_every_split_and_a_stream_by_characters():
    splits = read_splits("builtin:shakespeare", "lm", limit=20)
    assert isinstance(splits.train, str) and len(splits.train) == 2000 and len(splits.valid) == 2000
    g2p = read_splits("builtin:cmudict", "seq2seq", limit=25)
    assert len(g2p.train) == len(g2p.valid) == len(g2p.test) == 25


def test_a_task_refuses_data_of_another_kind():
    with pytest.raises(ValueError, match="the han task reads document-classification"):
        read_splits("builtin:cmudict", "han")
    with pytest.raises(ValueError, match="no built-in data set 'nope'"):
        read_splits("builtin:nope", "lm")


def test_builtins_carry_their_tokenizer_and_refuse_file_options():
    assert read_splits("builtin:cmudict", "seq2seq", limit=5).tokenizer == "lower_chars"
    assert read_splits("builtin:shakespeare", "tag", limit=5).tokenizer == "nonspace_chars"
    with pytest.raises(TaskError, match="split into tokens by lower_chars; the tokenizer 'words' applies"):
        read_splits("builtin:cmudict", "seq2seq", tokenizer="words")
    with pytest.raises(TaskError, match="reader options delimiter apply to a file of your own"):
        read_splits("builtin:cmudict", "seq2seq", options={"delimiter": ";"})
    with pytest.raises(TaskError, match="fixed splits"):
        read_splits("builtin:cmudict", "seq2seq", valid="valid.tsv")


def test_a_user_file_is_split_by_hashing_and_separate_files_kept(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"word{i}\tmot{i}\n" for i in range(100)))
    splits = read_splits(str(pairs), "seq2seq")
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (80, 10, 10)
    assert not splits.builtin and splits.tokenizer == "lower_words"
    tagged, valid = tmp_path / "train.conll", tmp_path / "valid.conll"
    tagged.write_text("the\tDET\ncat\tNOUN\n\na\tDET\n")
    valid.write_text("a DET\n")
    splits = read_splits(str(tagged), "tag", valid=str(valid), held_out=(0.1, 0.0))
    assert splits.train == (TaggingExample(("the", "cat"), ("DET", "NOUN")), TaggingExample(("a",), ("DET",)))
    assert splits.valid == (TaggingExample(("a",), ("DET",)),) and splits.test is None


def test_each_task_reads_its_files_through_the_data_readers(tmp_path):
    text = tmp_path / "labelled.csv"
    text.write_text("text,label\nGood fun. Really good.,pos\nDull,neg\n")
    flat = read_splits(str(text), "classify", held_out=(0.0, 0.0), tokenizer="lower_chars")
    assert flat.kind == "classification" and flat.train[1].tokens == tuple("dull") and flat.tokenizer == "lower_chars"
    docs = read_splits(str(text), "han", held_out=(0.0, 0.0))
    assert docs.train[0].sentences == (("good", "fun", "."), ("really", "good", "."))
    series = tmp_path / "series.csv"
    series.write_text("series,label,x\na,up,1\na,up,2\nb,down,2\nb,down,1\n")
    numbers = read_splits(str(series), "classify", held_out=(0.0, 0.0))
    assert numbers.kind == "series-classification" and numbers.train[0].values.shape == (2, 1)
    lines = tmp_path / "lines.tsv"
    lines.write_text("hamlet\tTo be.\n")
    assert read_splits(str(lines), "generate", held_out=(0.0, 0.0)).train[0].condition == "hamlet"
    with pytest.raises(DataOptionError, match="not read with a tokenizer"):
        read_splits(str(series), "classify", tokenizer="words")


def test_a_bad_line_is_reported_with_its_file_and_line(tmp_path):
    bad = tmp_path / "bad.conll"
    bad.write_text("the\tDET\ncat\n")
    with pytest.raises(DataFormatError, match=r"bad.conll:2: expected 2 columns like the first token line, found 1"):
        read_splits(str(bad), "tag")


def test_limit_spreads_over_a_split_sorted_by_class():
    splits = read_splits("builtin:bbc-news", "classify", limit=10)
    assert len(splits.train) == 10
    assert len({e.label for e in splits.train}) == 5  # the first 10 would all be business
    assert len({e.label for e in splits.test}) == 5


def test_spread_takes_evenly_spaced_examples_in_order():
    assert spread(tuple(range(10)), 5) == (0, 2, 4, 6, 8)
    assert spread(tuple(range(7)), 3) == (0, 2, 4)
    assert spread((1, 2), 5) == (1, 2)
