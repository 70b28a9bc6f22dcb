"""Running ``rnnkit`` in-process: the data sets a test reads stay cached for the next test."""

from __future__ import annotations

import pytest

from rnnkit.cli.main import main

# Tiny runs: a few hundred examples, a few steps, a few units.
TINY = ["--task.limit", "40", "--task.batch_size", "8", "--task.eval_batch_size", "64",
        "--train.max_steps", "3", "--train.progress", "false", "--train.log_every", "1"]

# Each task's model, a few units wide.
SMALL = {
    "classify": ["--model.hidden_size", "8", "--model.embedding_dim", "8"],
    "tag": ["--model.hidden_size", "8", "--model.embedding_dim", "8"],
    "lm": ["--model.hidden_size", "8", "--model.embedding_dim", "8", "--task.bptt", "10"],
    "generate": ["--model.hidden_size", "8", "--model.embedding_dim", "8"],
    "seq2seq": ["--model.hidden_size", "8", "--model.embedding_dim", "8"],
    "han": ["--model.word_hidden_size", "4", "--model.sentence_hidden_size", "4", "--model.embedding_dim", "8",
            "--model.word_attention_size", "4", "--model.sentence_attention_size", "4"],
}


@pytest.fixture
def rnnkit(capsys):
    """``rnnkit(*args)`` runs the command line and returns (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
