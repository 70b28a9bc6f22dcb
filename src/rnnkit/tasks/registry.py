"""The task adapters by command-line name."""

from __future__ import annotations

from rnnkit.tasks.base import TaskAdapter
from rnnkit.tasks.classify import ClassifyTask
from rnnkit.tasks.errors import TaskError
from rnnkit.tasks.generate import GenerateTask
from rnnkit.tasks.han import HANTask
from rnnkit.tasks.lm import LanguageModelTask
from rnnkit.tasks.seq2seq import Seq2SeqTask
from rnnkit.tasks.tag import TagTask

TASKS: dict[str, type[TaskAdapter]] = {
    t.name: t for t in (ClassifyTask, TagTask, LanguageModelTask, GenerateTask, Seq2SeqTask, HANTask)
}


def get_task(name: str) -> type[TaskAdapter]:
    if name not in TASKS:
        raise TaskError(f"unknown task {name!r}; one of {', '.join(TASKS)}")
    return TASKS[name]
