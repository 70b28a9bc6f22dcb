"""Task adapters: each joins one task's data batches to its model for training, evaluation and prediction.

- ``classify``: :class:`~rnnkit.models.SequenceClassifier`, accuracy. bbc-news, japanese-vowels; a CSV or
  TSV of text and label, or numeric CSV series.
- ``tag``: :class:`~rnnkit.models.SequenceTagger`, tag accuracy. shakespeare (word segmentation); CoNLL
  token/tag columns.
- ``lm``: :class:`~rnnkit.models.LanguageModel`, perplexity. shakespeare; plain text.
- ``generate``: :class:`~rnnkit.models.ConditionalGenerator`, perplexity. shakespeare-scenes (speeches by
  play); ``CONDITION<TAB>TEXT`` lines.
- ``seq2seq``: :class:`~rnnkit.models.Seq2Seq`, token / sequence error rates (PER / WER). cmudict (g2p),
  dialogue; ``SOURCE<TAB>TARGET`` pairs.
- ``han``: :class:`~rnnkit.models.HierarchicalAttentionNetwork`, accuracy. shakespeare-scenes, bbc-news;
  a CSV or TSV of text and label.

A user's files are read by the readers of :mod:`rnnkit.data.files` (see :mod:`rnnkit.tasks.splits`).
"""

from rnnkit.tasks.base import TaskAdapter, TaskOptions, Tokenizer
from rnnkit.tasks.classify import ClassifyOptions, ClassifyTask
from rnnkit.tasks.errors import ConfigError, TaskError
from rnnkit.tasks.generate import GenerateOptions, GenerateTask
from rnnkit.tasks.han import HANOptions, HANTask
from rnnkit.tasks.lm import LanguageModelOptions, LanguageModelTask
from rnnkit.tasks.registry import TASKS, get_task
from rnnkit.tasks.run import load_run, read_task, save_run
from rnnkit.tasks.seq2seq import Seq2SeqOptions, Seq2SeqTask
from rnnkit.tasks.splits import Splits, read_splits, spread
from rnnkit.tasks.tag import TagOptions, TagTask

__all__ = [
    "TASKS",
    "ClassifyOptions",
    "ClassifyTask",
    "ConfigError",
    "GenerateOptions",
    "GenerateTask",
    "HANOptions",
    "HANTask",
    "LanguageModelOptions",
    "LanguageModelTask",
    "Seq2SeqOptions",
    "Seq2SeqTask",
    "Splits",
    "TagOptions",
    "TagTask",
    "TaskAdapter",
    "TaskError",
    "TaskOptions",
    "Tokenizer",
    "get_task",
    "load_run",
    "read_splits",
    "spread",
    "read_task",
    "save_run",
]
