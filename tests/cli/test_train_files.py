"""``rnnkit`` end to end on a user's own file of each format: train a few steps, eval, predict; separate
validation and test files; a malformed file is reported as ``error: FILE:LINE: problem`` with exit code 2."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from tests.cli.conftest import SMALL, TINY

from rnnkit.cli.main import main
from rnnkit.tasks import load_run

WORDS = "the cat sat on a mat dog ran far away good bad fun dull rain sun".split()


def _sentence(rng: random.Random, n: int = 5) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _plain_text(rng: random.Random) -> str:
    return "".join(_sentence(rng, 8) + "\n" for _ in range(60))


def _pairs(rng: random.Random) -> str:
    return "".join(f"{w}\t{' '.join(w.upper())}\n" for w in (rng.choice(WORDS) + rng.choice(WORDS) for _ in range(60)))


def _text_and_label(rng: random.Random) -> str:
    rows = [f'"{_sentence(rng)} {_sentence(rng)}",{rng.choice(["pos", "neg"])}' for _ in range(60)]
    return "review,sentiment\n" + "\n".join(rows) + "\n"


def _label_tsv(rng: random.Random) -> str:
    return "".join(f"{_sentence(rng)}\t{rng.choice(['pos', 'neg'])}\n" for _ in range(60))


def _conll(rng: random.Random) -> str:
    sentences = (_sentence(rng).rstrip(".").lower().split() for _ in range(60))
    return "\n".join("".join(f"{w} {'DET' if w in ('the', 'a') else 'X'}\n" for w in s) for s in sentences)


def _series(rng: random.Random) -> str:
    rows = ["series,label,x,y"]
    for i in range(40):
        label = "up" if i % 2 else "down"
        for t in range(rng.randint(3, 8)):
            rows.append(f"s{i},{label},{t if label == 'up' else -t},{rng.random():.3f}")
    return "\n".join(rows) + "\n"


def _conditioned(rng: random.Random) -> str:
    return "".join(f"{c}\t{_sentence(rng)}\n" for c in (rng.choice(["calm", "storm"]) for _ in range(60)))


# (task, file name, content, a line to predict from, options)
FILES = [
    ("lm", "corpus.txt", _plain_text, "The cat", []),
    ("seq2seq", "pairs.tsv", _pairs, "catdog", ["--task.read", '{"src_tokenizer": "chars", "tgt_tokenizer": "spaces"}']),
    ("classify", "reviews.csv", _text_and_label, "Good fun in the sun.", []),
    ("classify", "labels.tsv", _label_tsv, "Dull rain.", []),
    ("classify", "series.csv", _series, "1,0.5;2,0.5;3,0.5", []),
    ("han", "reviews.csv", _text_and_label, "Good fun. The sun.", []),
    ("tag", "tags.conll", _conll, "the cat sat", []),
    ("generate", "moods.tsv", _conditioned, "storm", []),
]


@pytest.mark.parametrize(("task", "name", "content", "line", "options"), FILES,
                         ids=[f"{t}-{n}" for t, n, *_ in FILES])
def test_train_eval_predict_on_a_user_file(rnnkit, tmp_path, task, name, content, line, options):
    data, run = tmp_path / name, str(tmp_path / "run")
    data.write_text(content(random.Random(0)), encoding="utf-8")
    code, out, err = rnnkit("train", task, "--data", str(data), "--run", run, *TINY, *SMALL[task], *options)
    assert code == 0, err
    assert "trained 3 steps" in out and f"{task}: {data}" in err and "\nread: " in err  # what was read, said
    task_adapter, _ = load_run(run)
    metric = task_adapter.metric_names[0]
    assert "test (" in out and metric in out  # held out of the file: 10 % of its examples

    code, out, err = rnnkit("eval", run, "--split", "valid")
    assert code == 0, err
    assert out.startswith("valid: ") and metric in out

    code, out, err = rnnkit("eval", run, "--data", str(data))  # another file: all of it
    assert code == 0, err
    assert out.startswith("all: ") and metric in out

    lines = tmp_path / "lines.txt"
    lines.write_text(f"{line}\n{line}\n", encoding="utf-8")
    code, out, err = rnnkit("predict", run, "--input", str(lines))
    assert code == 0, err
    first, second = out.split("\n")[:2]
    assert first == second
    if task in ("classify", "han"):
        assert first in task_adapter.vocab("labels").symbols
    if task == "tag":
        assert len(first.split()) == len(line.split())


def test_separate_validation_and_test_files(rnnkit, tmp_path):
    rng = random.Random(1)
    files = {split: tmp_path / f"{split}.tsv" for split in ("train", "valid", "test")}
    for split, path in files.items():
        path.write_text(_label_tsv(rng), encoding="utf-8")
    run = str(tmp_path / "run")
    code, out, err = rnnkit("train", "classify", "--data", str(files["train"]), "--valid", str(files["valid"]),
                            "--test", str(files["test"]), "--run", run, *TINY, *SMALL["classify"])
    assert code == 0, err
    assert "40 training examples" in err and "test (40 examples)" in out  # nothing held out; cut to the limit
    code, out, err = rnnkit("eval", run, "--split", "test")
    assert code == 0 and out.startswith("test: ") and "examples 40" in out


@pytest.mark.parametrize(("task", "name", "content", "where", "problem"), [
    ("classify", "bad.csv", "text,label\nfine,pos\nno label here\n", 3, "expected 2 fields, found 1"),
    ("seq2seq", "bad.tsv", "a\tb\nno tab\n", 2, "found no tab"),
    ("tag", "bad.conll", "the DET\ncat\n", 2, "expected 2 columns"),
    ("classify", "bad_series.csv", "series,label,x\na,up,1\na,up,one\n", 3, "'one' is not a number"),
    ("generate", "bad.tsv", "calm\tA day.\nstorm\t\n", 2, "empty text"),
])
def test_a_malformed_file_is_named_with_its_line(rnnkit, tmp_path, task, name, content, where, problem):
    data = tmp_path / name
    data.write_text(content, encoding="utf-8")
    code, out, err = rnnkit("train", task, "--data", str(data), "--run", str(tmp_path / "run"), *TINY)
    assert code == 2 and not out
    assert err.startswith(f"error: {data}:{where}: ") and problem in err


def test_user_errors_are_one_line_and_faults_keep_their_traceback(rnnkit, tmp_path, monkeypatch):
    data = tmp_path / "labels.tsv"
    data.write_text(_label_tsv(random.Random(2)), encoding="utf-8")
    run = ("train", "classify", "--data", str(data), "--run", str(tmp_path / "run"), *TINY)
    code, _, err = rnnkit(*run, "--task.batch_size", "0")
    assert code == 2 and err == "error: ClassifyOptions.batch_size must be at least 1, got 0\n"
    code, _, err = rnnkit(*run, "--task.read", '{"sheet": 2}')
    assert code == 2 and "reader takes no option sheet" in err
    code, _, err = rnnkit(*run[:3], str(tmp_path / "missing.tsv"), *run[4:])
    assert code == 2 and "no such file" in err

    def broken(*args: object) -> None:
        raise ValueError("a bug deep down")

    monkeypatch.setattr("rnnkit.cli.main.run_train", broken)
    with pytest.raises(ValueError, match="a bug deep down"):
        main(list(run))


def test_reader_options_are_kept_with_the_run(rnnkit, tmp_path):
    data = tmp_path / "columns.csv"
    data.write_text("".join(f"{i};{_sentence(random.Random(i))};{'ab'[i % 2]}\n" for i in range(40)), encoding="utf-8")
    run = tmp_path / "run"
    read = '{"delimiter": ";", "text_column": 1, "label_column": 2}'
    code, _, err = rnnkit("train", "classify", "--data", str(data), "--run", str(run), "--task.read", read,
                          *TINY, *SMALL["classify"])
    assert code == 0, err
    task, _ = load_run(run)
    assert task.options.read == {"delimiter": ";", "text_column": 1, "label_column": 2}
    assert task.vocab("labels").symbols == ["a", "b"]
    code, out, err = rnnkit("eval", str(run), "--data", str(data))
    assert code == 0 and "examples 40" in out, err
    assert Path(run / "config.yaml").read_text().count(str(data)) == 1


def test_a_text_stream_is_counted_in_characters_and_one_is_not_plural(rnnkit, tmp_path):
    (tmp_path / "corpus.txt").write_text("To be, or not to be, that is the question.\n" * 40)
    code, out, err = rnnkit("train", "lm", "--data", str(tmp_path / "corpus.txt"), "--run", str(tmp_path / "run"),
                            *TINY, *SMALL["lm"], "--train.max_steps", "1")
    assert code == 0, err
    assert re.search(r"corpus\.txt, [\d,]+ training characters;", err)  # not "characters training examples"
    assert "trained 1 step (" in out and re.search(r"\ntest \([\d,]+ characters\): perplexity", out)
