"""The task adapters by command-line name."""

from __future__ import annotations

from rnnkit.tasks.base import TaskAdapter
from rnnkit.tasks.seq2seq import Seq2SeqTask

TASKS: dict[str, type[TaskAdapter]] = {t.name: t for t in (Seq2SeqTask,)}


def get_task(name: str) -> type[TaskAdapter]:
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; one of {', '.join(TASKS)}")
    return TASKS[name]
