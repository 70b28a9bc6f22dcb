"""Reading data for a task: built-in views, limits, a user's files, located errors."""

from __future__ import annotations

import pytest

from rnnkit.data import DataFormatError, TaggingExample
from rnnkit.tasks.splits import read_splits


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


def test_a_user_file_is_split_by_hashing_and_a_folder_by_name(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("".join(f"word{i}\tmot{i}\n" for i in range(100)))
    splits = read_splits(str(pairs), "seq2seq")
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (80, 10, 10)
    assert not splits.builtin
    folder = tmp_path / "tagged"
    folder.mkdir()
    (folder / "train.txt").write_text("the\tDET\ncat\tNOUN\n\na\tDET\n")
    splits = read_splits(str(folder), "tag")
    assert splits.train == (TaggingExample(("the", "cat"), ("DET", "NOUN")), TaggingExample(("a",), ("DET",)))
    assert splits.valid is None and splits.test is None


def test_a_bad_line_is_reported_with_its_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("the\tDET\ncat NOUN\n")
    with pytest.raises(DataFormatError, match=r"bad.txt:2: expected TOKEN<TAB>TAG"):
        read_splits(str(bad), "tag")
