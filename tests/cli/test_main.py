"""``rnnkit`` end to end on tiny slices of every built-in data set: train, eval, predict, generate,
datasets, resume, and --help of every command."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from tests.cli.conftest import SMALL, TINY

from rnnkit.cli import commands
from rnnkit.cli.main import main
from rnnkit.tasks import TASKS, load_run
from rnnkit.training import load_checkpoint

# (task, built-in data set, a line to predict from)
RUNS = [
    ("seq2seq", "cmudict", "phoneme"),
    ("seq2seq", "dialogue", "how are you?"),
    ("classify", "bbc-news", "shares rose on the stock market"),
    ("classify", "japanese-vowels", ";".join([",".join(["0.5"] * 12)] * 9)),
    ("lm", "shakespeare", "To be"),
    ("tag", "shakespeare", "tobeornottobe"),
    ("generate", "shakespeare-scenes", "alls_well_that_ends_well"),
    ("han", "shakespeare-scenes", "To be, or not to be. That is the question."),
    ("han", "bbc-news", "The match ended. The crowd cheered."),
]


@pytest.mark.parametrize(("task", "data", "line"), RUNS, ids=[f"{t}-{d}" for t, d, _ in RUNS])
def test_train_eval_predict_on_each_builtin(rnnkit, tmp_path, task, data, line):
    run = str(tmp_path / "run")
    code, out, err = rnnkit("train", task, "--data", f"builtin:{data}", "--run", run, *TINY, *SMALL[task])
    assert code == 0, err
    assert "trained 3 steps" in out
    for name in ("config.yaml", "task.json", "model.json", "log.csv"):
        assert (tmp_path / "run" / name).is_file(), name
    task_adapter, model = load_run(run)
    assert task_adapter.name == task and isinstance(model, task_adapter.model_class)

    code, out, err = rnnkit("eval", run, "--split", "valid", "--limit", "20")
    assert code == 0, err
    metric = task_adapter.metric_names[0]
    assert out.startswith("valid: ") and task_adapter.fitted.get("metric_labels", {}).get(metric, metric) in out

    input_file = tmp_path / "lines.txt"
    input_file.write_text(f"{line}\n{line}\n")
    code, out, err = rnnkit("predict", run, "--input", str(input_file))
    assert code == 0, err
    predictions = out.split("\n")[:2]
    assert len(out.splitlines()) >= 1 and predictions[0] == predictions[1]  # same line, same prediction
    if task in ("classify", "han"):
        assert predictions[0] in task_adapter.vocab("labels").symbols
    if task == "tag":
        assert len(predictions[0].split()) == len(line)


@pytest.mark.parametrize(("task", "data", "option"), [
    ("lm", "shakespeare", ["--prime", "ROMEO."]),
    ("generate", "shakespeare-scenes", ["--condition", "antony_and_cleopatra"]),
])
def test_generate_samples_reproducibly(rnnkit, tmp_path, task, data, option):
    run = str(tmp_path / "run")
    assert rnnkit("train", task, "--data", f"builtin:{data}", "--run", run, *TINY, *SMALL[task])[0] == 0
    args = ("generate", run, *option, "--length", "12", "--num", "2", "--temperature", "0.8", "--top_k", "5")
    code, first, err = rnnkit(*args, "--seed", "3")
    assert code == 0, err
    assert rnnkit(*args, "--seed", "3")[1] == first
    samples = first.split("-" * 40)
    assert len(samples) == 2
    if task == "lm":
        assert all(s.strip().startswith("ROMEO.") for s in samples)


def test_resume_matches_an_uninterrupted_run(rnnkit, tmp_path):
    common = ["--data", "builtin:shakespeare", *TINY, *SMALL["lm"], "--eval_split", "none"]
    straight, split = str(tmp_path / "straight"), str(tmp_path / "split")
    assert rnnkit("train", "lm", "--run", straight, *common, "--train.max_steps", "6")[0] == 0
    assert rnnkit("train", "lm", "--run", split, *common, "--train.max_steps", "3")[0] == 0
    code, _, err = rnnkit("train", "lm", "--run", split, *common, "--train.max_steps", "6")
    assert code == 2 and "already holds" in err  # a run folder is not overwritten without --resume
    code, out, err = rnnkit("train", "lm", "--run", split, *common, "--train.max_steps", "6", "--resume", "true")
    assert code == 0, err
    assert "trained 6 steps" in out
    a, b = load_checkpoint(straight, "latest").model, load_checkpoint(split, "latest").model
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def test_datasets_lists_every_builtin(rnnkit):
    code, out, _ = rnnkit("datasets")
    assert code == 0
    for name in ("cmudict", "shakespeare", "shakespeare-scenes", "bbc-news", "japanese-vowels", "dialogue"):
        assert f"builtin:{name}:" in out
    assert "seq2seq" in out and "yes" in out


@pytest.mark.parametrize("command", [[], ["train"], *[["train", t] for t in TASKS],
                                     ["eval"], ["predict"], ["generate"], ["datasets"]])
def test_help_of_every_command(capsys, command):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "usage:" in text
    if command[:1] == ["train"] and len(command) == 2:
        assert "--model." in text and "--train.lr" in text and "--task.batch_size" in text


def test_bad_choice_is_refused(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "seq2seq", "--run", str(tmp_path), "--model.cell", "tcn"])
    assert exit_.value.code != 0
    assert "model.cell" in capsys.readouterr().err


def test_missing_run_folder_is_a_clear_error(rnnkit, tmp_path):
    code, _, err = rnnkit("eval", str(tmp_path / "nowhere"))
    assert code == 2 and "not a run folder" in err


def test_eval_limit_keeps_every_class_of_a_sorted_split(rnnkit, tmp_path, monkeypatch):
    run = str(tmp_path / "run")
    code, _, err = rnnkit("train", "classify", "--data", "builtin:bbc-news", "--run", run, *TINY, *SMALL["classify"],
                          "--eval_split", "none")
    assert code == 0, err
    task, model = load_run(run)
    labels = []
    evaluate = task.evaluate
    monkeypatch.setattr(task, "evaluate", lambda m, examples, **o: labels.extend(e.label for e in examples)
                        or evaluate(m, examples, **o))
    monkeypatch.setattr(commands, "load_run", lambda *_: (task, model))
    code, _, err = rnnkit("eval", run, "--limit", "10")
    assert code == 0, err
    assert len(labels) == 10 and len(set(labels)) == 5  # bbc-news's test split is stored class by class


def test_predict_reads_windows_line_ends_and_a_byte_order_mark(rnnkit, tmp_path, monkeypatch):
    run = str(tmp_path / "run")
    code, _, err = rnnkit("train", "classify", "--data", "builtin:japanese-vowels", "--run", run, *TINY,
                          *SMALL["classify"], "--eval_split", "none")
    assert code == 0, err
    line = ",".join(["0.5"] * 12)
    (tmp_path / "in.txt").write_bytes(f"\ufeff{line}\r\n{line}\r\n".encode())
    code, out, err = rnnkit("predict", run, "--input", str(tmp_path / "in.txt"))
    assert code == 0, err
    assert len(out.splitlines()) == 2 and out.splitlines()[0] == out.splitlines()[1]
    monkeypatch.setattr("sys.stdin", io.StringIO(f"\ufeff{line}\r\n"))
    code, out, err = rnnkit("predict", run)
    assert code == 0, err
    assert len(out.splitlines()) == 1


def test_cli_doc_shows_the_errors_rnnkit_gives_and_one_task_table(capsys):
    doc = (Path(__file__).parents[2] / "docs" / "CLI.md").read_text()
    assert doc.count("| `TASK` |") == 1 and all(doc.count(f"| `{task}` |") == 1 for task in TASKS)
    shown = doc.split("$ rnnkit ", 1)[1].split("```", 1)[0].splitlines()
    with pytest.raises(SystemExit):
        main(shown[0].split())
    assert capsys.readouterr().err.splitlines() == shown[1:]


def test_resume_under_another_task_names_the_run_s_task(rnnkit, tmp_path):
    run = str(tmp_path / "run")
    code, _, err = rnnkit("train", "classify", "--data", "builtin:bbc-news", "--run", run, *TINY, *SMALL["classify"],
                          "--eval_split", "none")
    assert code == 0, err
    code, _, err = rnnkit("train", "lm", "--run", run, "--resume", "true", *TINY)
    assert code == 2 and err.endswith(f"error: {run} is a classify run; resume it with rnnkit train classify\n")


def test_examples_take_one_or_more_lines_and_keep_their_commas(rnnkit, tmp_path):
    run = str(tmp_path / "run")
    code, out, err = rnnkit("train", "classify", "--data", "builtin:bbc-news", "--run", run, *TINY,
                            *SMALL["classify"], "--eval_split", "none", "--examples", "shares rose, then fell", "goal")
    assert code == 0, err
    assert "\n  shares rose, then fell\t" in out and "\n  goal\t" in out
    code, out, err = rnnkit("train", "classify", "--data", "builtin:bbc-news", "--run", str(tmp_path / "one"), *TINY,
                            *SMALL["classify"], "--eval_split", "none", "--examples", "goal")
    assert code == 0, err
    assert "\n  goal\t" in out


def test_resume_on_other_data_is_refused(rnnkit, tmp_path):
    run = str(tmp_path / "run")
    (tmp_path / "corpus.txt").write_text("To be, or not to be, that is the question.\n" * 40)
    code, _, err = rnnkit("train", "lm", "--data", str(tmp_path / "corpus.txt"), "--run", run, *TINY, *SMALL["lm"],
                          "--eval_split", "none")
    assert code == 0, err
    code, _, err = rnnkit("train", "lm", "--run", run, "--resume", "true", *TINY, "--train.max_steps", "6")
    assert code == 2 and f"trained on --data {tmp_path / 'corpus.txt'}; resume it with the same --data" in err
