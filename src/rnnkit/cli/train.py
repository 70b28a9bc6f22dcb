"""``rnnkit train TASK``: read a data set, build vocabularies and a model, train, then report test metrics.

Options come in four groups, each a typed dataclass (``--help`` lists every field with its reason):
``--task.*`` the task's data options, ``--model.*`` the model's config (sizes the data decides, such as
vocabulary sizes, are filled in), ``--train.*`` the trainer's TrainConfig; plus the run's own options
(``--data``, ``--valid``, ``--test``, ``--run``, ``--resume``, ``--threads``, ``--examples``,
``--eval_limit``). A ``--config``
YAML or TOML file holds any of them; later options override it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

import torch
import yaml
from jsonargparse import ActionConfigFile, ArgumentParser, Namespace

from rnnkit.cli.commands import check_counts
from rnnkit.cli.dataclass_args import add_dataclass_options, build_dataclass
from rnnkit.cli.report import format_metrics
from rnnkit.tasks import TASKS, TaskAdapter, TaskError, load_run, save_run
from rnnkit.tasks.splits import Splits, spread
from rnnkit.training import TrainConfig, Trainer, plot_log
from rnnkit.training.checkpoint import read_pointer

CONFIG_FILE = "config.yaml"


def task_parser(task: type[TaskAdapter]) -> ArgumentParser:
    parser = ArgumentParser(description=f"Train a {task.name} model: {task.summary}.")
    parser.add_argument("--config", action=ActionConfigFile, help="a YAML or TOML file of any options below")
    parser.add_argument(
        "--data", type=str, default=task.default_data,
        help="builtin:NAME (see rnnkit datasets), or your training file (formats: docs/DATA.md); the splits "
        "not given by --valid and --test are held out of it (--task.valid_fraction, --task.test_fraction)",
    )
    parser.add_argument("--valid", type=str | None, default=None, help="your validation file (with a file --data)")
    parser.add_argument("--test", type=str | None, default=None, help="your test file (with a file --data)")
    parser.add_argument("--run", type=str, required=True, help="run folder: config, vocabularies, checkpoints, log")
    parser.add_argument(
        "--resume", type=bool, default=False,
        help="continue the run folder's latest checkpoint (its vocabularies and model config are kept; "
        "the length of training may change)",
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (torch.set_num_threads)")
    parser.add_argument(
        "--eval_split", type=Literal["test", "valid", "none"], default="test",
        help="after training, report the task's metrics on this split with the best checkpoint",
    )
    parser.add_argument(
        "--eval_limit", type=int | None, default=None,
        help="report them on N examples of that split only, spread evenly over it (a fixed subset); None: all",
    )
    parser.add_argument(
        "--examples", type=str, nargs="+", default=[],
        help="after training, print the model's predictions for these input lines",
    )
    add_dataclass_options(parser, task.options_class, "task")
    add_dataclass_options(
        parser, task.model_config_class, "model", skip=task.derived_fields, defaults=task.model_defaults
    )
    monitor, mode = task.monitor
    add_dataclass_options(parser, TrainConfig, "train", skip=("threads",), defaults={"monitor": monitor, "mode": mode})
    return parser


def run(task_name: str, cfg: Namespace) -> int:
    task_class = TASKS[task_name]
    values = cfg.as_dict()
    values.pop("config", None)
    run_dir = Path(cfg.run)
    check_counts(cfg, "threads", "eval_limit")
    torch.set_num_threads(cfg.threads)
    train_config = build_dataclass(TrainConfig, values["train"], threads=cfg.threads)
    has_checkpoint = read_pointer(run_dir / "checkpoints", "latest") is not None
    if has_checkpoint and not cfg.resume:
        raise TaskError(
            f"{run_dir} already holds a trained run; pass --resume true to continue it, "
            "or choose another --run folder"
        )

    if cfg.resume and has_checkpoint:
        task, model = load_run(run_dir, weights=False)
        if task.name != task_name:
            raise TaskError(f"{run_dir} is a {task.name} run; resume it with rnnkit train {task.name}")
        _warn_changed(run_dir, values)
        print(f"resuming {run_dir} from its latest checkpoint", file=sys.stderr)
    else:
        task = task_class(build_dataclass(task_class.options_class, values["task"]))
        splits = task.read_splits(cfg.data, cfg.valid, cfg.test)
        task.fit(splits)
        torch.manual_seed(train_config.seed)  # the initial weights come from the run's seed too
        model = task.build_model(values["model"])
        save_run(run_dir, task, model)
        (run_dir / CONFIG_FILE).write_text(yaml.safe_dump({"task_name": task_name, **values}, sort_keys=False))
    splits = task.read_splits(cfg.data, cfg.valid, cfg.test)
    parameters = sum(p.numel() for p in model.parameters())
    print(
        f"{task.name}: {splits.name}, {_size(splits.train, 'training ')}; "
        f"{type(model).__name__} with {parameters:,} parameters",
        file=sys.stderr,
    )
    if splits.summary:  # what was read, kept and skipped: nothing is left out unsaid
        print("read: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in splits.summary.items()), file=sys.stderr)
    train_source = task.batches(splits.train, train=True, seed=train_config.seed)
    val_source = task.batches(splits.valid, train=False) if splits.valid is not None else None
    if val_source is None and train_config.monitor.startswith("val_"):
        print(f"{splits.name} has no validation split: training without evaluation", file=sys.stderr)
    trainer = Trainer(
        model, task, train_source, train_config, val=val_source, run_dir=run_dir,
        extras={"task": task.name, "data": cfg.data},
    )
    result = trainer.fit(resume=bool(cfg.resume and has_checkpoint))
    elapsed = trainer.history[-1]["elapsed"] if trainer.history else 0.0
    print(
        f"trained {_plural(result.step, 'step')} ({_plural(result.epoch, 'epoch')}{', stopped early' if result.stopped_early else ''}) "
        f"in {elapsed:.0f} s" + (f"; best {train_config.monitor} {result.best:.4f}" if result.best is not None else "")
    )
    if (run_dir / "log.csv").is_file():
        try:
            plot_log(run_dir / "log.csv", run_dir / "training.png")
        except ImportError as error:  # matplotlib is optional
            print(f"no training plot: {error}", file=sys.stderr)
    report(run_dir, splits, cfg.eval_split, cfg.eval_limit, list(cfg.examples))
    return 0


def report(run_dir: Path, splits: Splits, split: str, limit: int | None, examples: list[str]) -> None:
    """The best checkpoint's metrics on ``split`` (``limit`` of its examples) and its predictions."""
    task, model = load_run(run_dir)
    if split != "none":
        part = getattr(splits, split)
        if part is None and split == "test" and splits.valid is not None:
            print(f"{splits.name} has no test split: reporting on the validation split", file=sys.stderr)
            split, part = "valid", splits.valid
        if part is not None:
            if limit is not None:
                part = part[:limit] if isinstance(part, str) else spread(part, limit)
            metrics = task.evaluate(model, part)
            print(f"{split} ({_size(part)}): {format_metrics(metrics, task.fitted.get('metric_labels', {}))}")
    if examples:
        print("predictions:")
        for line, prediction in zip(examples, task.predict(model, examples)):
            print(f"  {line}\t{prediction}")


def _warn_changed(run_dir: Path, values: dict[str, Any]) -> None:
    """Refuse other data for a resumed run; tell the user when the options given differ from the run's in
    what a resumed run keeps."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return
    saved = yaml.safe_load(path.read_text())
    for name in ("data", "valid", "test"):  # the batches resume where they stopped in the same data
        if saved.get(name) != values[name]:
            raise TaskError(
                f"{run_dir} trained on --{name} {saved.get(name)}; resume it with the same --{name}, "
                f"not {values[name]}"
            )
    for group in ("task", "model"):
        changed = sorted(k for k, v in values[group].items() if saved.get(group, {}).get(k) != v)
        if changed:
            print(f"note: --resume keeps the run's {group} options; ignoring new values of {changed}", file=sys.stderr)


def _size(examples: Any, what: str = "") -> str:
    """``1,234 examples``, or ``1,234 characters`` of a language model's text stream."""
    return _plural(len(examples), what + ("character" if isinstance(examples, str) else "example"))


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")

