"""Command-line mistakes are said in one line, naming the option as typed and the closest real one."""

from __future__ import annotations

import pytest

from rnnkit.cli.main import main


def error_of(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(list(argv))
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" not in err  # not the eighty-option usage line of rnnkit train TASK
    return err


def test_a_misspelled_option_suggests_the_real_one(capsys, tmp_path):
    err = error_of(capsys, "train", "classify", "--run", str(tmp_path), "--model.hiden_size", "8")
    assert "error: unknown option --model.hiden_size (did you mean --model.hidden_size" in err
    assert "see: rnnkit train classify --help" in err


def test_a_missing_option_is_named_as_typed(capsys):
    assert "error: missing --run\n" in error_of(capsys, "train", "classify", "--data", "builtin:bbc-news")
    assert "error: missing RUN\n" in error_of(capsys, "eval")
    assert "error: missing TASK: one of classify, tag, lm, generate, seq2seq, han" in error_of(capsys, "train")


def test_a_value_of_the_wrong_type_names_what_was_expected(capsys, tmp_path):
    err = error_of(capsys, "train", "seq2seq", "--run", str(tmp_path), "--model.cell", "lstmm")
    assert "error: --model.cell: expected one of lstm, gru, rnn, minimal_gru, got 'lstmm'" in err
    assert "error: --beam: expected int or null, got 'x'" in error_of(capsys, "predict", "r", "--beam", "x")
    assert "error: --train.lr: expected float, got 'abc'" in error_of(
        capsys, "train", "lm", "--run", str(tmp_path), "--train.lr", "abc")
