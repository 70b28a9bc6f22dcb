"""Task adapters: each joins one task's data batches to its model for training, evaluation and prediction.

| task | model | data | metrics |
| --- | --- | --- | --- |
| ``seq2seq`` | :class:`~rnnkit.models.Seq2Seq` | source/target pairs (cmudict, dialogue) | token and sequence error rates |
"""

from rnnkit.tasks.base import TaskAdapter, TaskOptions
from rnnkit.tasks.registry import TASKS, get_task
from rnnkit.tasks.run import load_run, save_run
from rnnkit.tasks.seq2seq import Seq2SeqOptions, Seq2SeqTask
from rnnkit.tasks.splits import Splits, read_splits

__all__ = [
    "TASKS",
    "Seq2SeqOptions",
    "Seq2SeqTask",
    "Splits",
    "TaskAdapter",
    "TaskOptions",
    "get_task",
    "load_run",
    "read_splits",
    "save_run",
]
