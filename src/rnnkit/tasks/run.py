"""A run folder: everything needed to use a trained model again.

::

    RUN/
        config.yaml        # the command's whole configuration, as parsed (rnnkit train writes it)
        task.json          # the task's name, options and fitted facts (tokenizer, output length)
        vocab/NAME.json    # the task's vocabularies
        model.json         # the model's config: Model(config) rebuilds it
        checkpoints/       # the trainer's checkpoints (latest, best)
        log.csv            # the training log

:func:`save_run` writes ``task.json``, ``vocab/`` and ``model.json`` before training starts;
:func:`load_run` rebuilds the task and the model and loads the weights of a checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

from torch import nn

from rnnkit.tasks.base import OPTIONS_FILE, TaskAdapter
from rnnkit.tasks.errors import TaskError
from rnnkit.tasks.registry import get_task
from rnnkit.training.checkpoint import load_checkpoint, read_pointer

MODEL_FILE = "model.json"


def save_run(folder: str | Path, task: TaskAdapter, model: nn.Module) -> None:
    """Write the task (options, vocabularies) and the model's config into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    task.save(folder)
    record = {"class": type(model).__name__, "config": dataclasses.asdict(model.config)}
    (folder / MODEL_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def read_task(folder: str | Path) -> TaskAdapter:
    """The task saved in ``folder`` (without a model)."""
    path = Path(folder) / OPTIONS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} is not a run folder: it holds no {OPTIONS_FILE} (written by rnnkit train)")
    name = json.loads(path.read_text(encoding="utf-8")).get("task")
    return get_task(name).load(folder)


def load_run(
    folder: str | Path, which: Literal["best", "latest"] = "best", *, weights: bool = True
) -> tuple[TaskAdapter, nn.Module]:
    """The task and the trained model of a run folder, in eval mode. ``which`` checkpoint: ``best``
    (lowest validation loss; the latest when the run was never evaluated) or ``latest``."""
    folder = Path(folder)
    task = read_task(folder)
    path = folder / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{folder} holds no {MODEL_FILE}: the run was not set up by rnnkit train")
    record = json.loads(path.read_text(encoding="utf-8"))
    if record["class"] != task.model_class.__name__:
        raise TaskError(
            f"{path}: a {record['class']} model, but the {task.name} task trains {task.model_class.__name__}"
        )
    model = task.model_class(task.model_config_class(**record["config"]))
    if weights:
        checkpoints = folder / "checkpoints"
        if which == "best" and read_pointer(checkpoints, "best") is None:
            which = "latest"
        model.load_state_dict(load_checkpoint(folder, which).model)
    model.eval()
    return task, model
