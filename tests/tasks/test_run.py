"""Run folders: the task and model saved before training come back identical."""

from __future__ import annotations

import json

import pytest

from rnnkit.tasks import load_run, save_run
from rnnkit.tasks.run import read_task
from rnnkit.tasks.splits import read_splits
from rnnkit.tasks.seq2seq import Seq2SeqOptions, Seq2SeqTask


def test_task_and_model_round_trip(tmp_path):
    task = Seq2SeqTask(Seq2SeqOptions(beam_size=3))
    task.fit(read_splits("builtin:cmudict", "seq2seq", limit=30))
    model = task.build_model({"hidden_size": 8, "embedding_dim": 4})
    save_run(tmp_path, task, model)
    again = read_task(tmp_path)
    assert again.options == task.options and again.fitted == task.fitted
    assert again.vocab("tgt").symbols == task.vocab("tgt").symbols
    _, rebuilt = load_run(tmp_path, weights=False)
    assert rebuilt.config == model.config and not rebuilt.training
    assert json.loads((tmp_path / "task.json").read_text())["task"] == "seq2seq"


def test_a_folder_without_a_run_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        load_run(tmp_path)
