"""Task adapters: each joins one task's data batches to its model for training, evaluation and prediction.

| task | model | built-in data | metrics |
| --- | --- | --- | --- |
| ``classify`` | :class:`~rnnkit.models.SequenceClassifier` | bbc-news, japanese-vowels | accuracy |
| ``tag`` | :class:`~rnnkit.models.SequenceTagger` | shakespeare (word segmentation), tagged files | tag accuracy |
| ``lm`` | :class:`~rnnkit.models.LanguageModel` | shakespeare | perplexity |
| ``generate`` | :class:`~rnnkit.models.ConditionalGenerator` | shakespeare-scenes (speeches by play) | perplexity |
| ``seq2seq`` | :class:`~rnnkit.models.Seq2Seq` | cmudict (g2p), dialogue | token / sequence error rates (PER / WER) |
| ``han`` | :class:`~rnnkit.models.HierarchicalAttentionNetwork` | shakespeare-scenes, bbc-news | accuracy |
"""

from rnnkit.tasks.base import TaskAdapter, TaskOptions
from rnnkit.tasks.classify import ClassifyOptions, ClassifyTask
from rnnkit.tasks.generate import GenerateOptions, GenerateTask
from rnnkit.tasks.han import HANOptions, HANTask
from rnnkit.tasks.lm import LanguageModelOptions, LanguageModelTask
from rnnkit.tasks.registry import TASKS, get_task
from rnnkit.tasks.run import load_run, read_task, save_run
from rnnkit.tasks.seq2seq import Seq2SeqOptions, Seq2SeqTask
from rnnkit.tasks.splits import Splits, read_splits
from rnnkit.tasks.tag import TagOptions, TagTask

__all__ = [
    "TASKS",
    "ClassifyOptions",
    "ClassifyTask",
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
    "TaskOptions",
    "get_task",
    "load_run",
    "read_splits",
    "read_task",
    "save_run",
]
