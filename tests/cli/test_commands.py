"""The options of eval, predict and generate are checked before any work: a bad value is one line, no traceback."""

from __future__ import annotations

import pytest
from tests.cli.conftest import SMALL, TINY


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory):
    from rnnkit.cli.main import main

    run = str(tmp_path_factory.mktemp("lm") / "run")
    assert main(["train", "lm", "--data", "builtin:shakespeare", "--run", run, *TINY, *SMALL["lm"],
                 "--eval_split", "none"]) == 0
    return run


@pytest.mark.parametrize(("args", "said"), [
    (["generate", "{run}", "--top_p", "2"], "--top_p must be in (0, 1], got 2.0"),
    (["generate", "{run}", "--temperature", "0"], "--temperature must be positive, got 0.0"),
    (["generate", "{run}", "--num", "0"], "--num must be at least 1, got 0"),
    (["generate", "{run}", "--top_k", "0"], "--top_k must be at least 1, got 0"),
    (["eval", "{run}", "--limit", "0"], "--limit must be at least 1, got 0"),
    (["predict", "{run}", "--n_best", "0"], "--n_best must be at least 1, got 0"),
    (["eval", "{run}", "--threads", "0"], "--threads must be at least 1, got 0"),
    (["predict", "{run}", "--beam", "3"], "--beam applies to seq2seq runs; this is a lm run"),
])
def test_a_bad_value_is_a_one_line_error(rnnkit, lm_run, args, said):
    code, _, err = rnnkit(*[a.format(run=lm_run) for a in args])
    assert code == 2 and err == f"error: {said}\n"


def test_train_checks_threads_and_eval_limit(rnnkit, tmp_path):
    for option in ("--threads", "--eval_limit"):
        code, _, err = rnnkit("train", "lm", "--run", str(tmp_path / "run"), *TINY, *SMALL["lm"], option, "0")
        assert code == 2 and err == f"error: {option} must be at least 1, got 0\n"
