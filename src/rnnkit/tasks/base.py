"""The task adapter: what joins a data set's batches to a model, for training, evaluation and prediction.

A model knows nothing of data and the trainer knows nothing of models; a task adapter knows both sides
of one task (classify, tag, lm, generate, seq2seq, han):

- its typed options (:class:`TaskOptions` and a subclass per task: batch size, slicing, lengths);
- which model it trains (``model_class`` built from ``model_config_class``), which config fields come
  from the data (``derived_fields``: vocabulary sizes, class counts) and the sizes that suit it
  (``model_defaults``);
- how to read a data set into splits (:meth:`read_splits`), build its vocabularies from the training
  split (:meth:`fit`) and batch a split (:meth:`batches`);
- the trainer's step (:meth:`step`), its metrics (:meth:`evaluate`) and its predictions from text lines
  (:meth:`predict`);
- how to save its options and vocabularies beside a model and read them back (:meth:`save`, :meth:`load`).

Life cycle::

    task = Seq2SeqTask(Seq2SeqOptions(batch_size=64))
    splits = task.read_splits("builtin:cmudict")
    task.fit(splits)                            # vocabularies from the training split
    model = task.build_model({"hidden_size": 256})
    source = task.batches(splits.train, train=True, seed=0)   # for the trainer, with task.step
    print(task.evaluate(model, splits.test))     # {"per": ..., "wer": ...}
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from rnnkit.data.vocab import Vocab
from rnnkit.tasks.splits import Splits, read_splits
from rnnkit.training.task import StepOutput

OPTIONS_FILE = "task.json"
VOCAB_DIR = "vocab"


@dataclass
class TaskOptions:
    """Data options every task shares."""

    limit: int | None = None  # read only the first N examples of each split (quick looks, tests); None: all
    batch_size: int = 32  # examples per training batch
    eval_batch_size: int = 256  # examples per evaluation and prediction batch (no gradients: bigger is fine)

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"{name}.limit must be at least 1 or None, got {self.limit!r}")
        for field in ("batch_size", "eval_batch_size"):
            if getattr(self, field) < 1:
                raise ValueError(f"{name}.{field} must be at least 1, got {getattr(self, field)!r}")


class TaskAdapter(ABC):
    """Base class of the task adapters; see the module docstring for the life cycle."""

    name: ClassVar[str]  # the command-line name: rnnkit train NAME
    summary: ClassVar[str]  # one line for --help
    options_class: ClassVar[type[TaskOptions]] = TaskOptions
    model_class: ClassVar[type[nn.Module]]
    model_config_class: ClassVar[type]
    derived_fields: ClassVar[tuple[str, ...]] = ()  # model config fields set from the data, not by the user
    model_defaults: ClassVar[dict[str, Any]] = {}  # sizes that suit this task, over the model config's defaults
    default_data: ClassVar[str]  # the built-in data set used when none is given
    metric_names: ClassVar[tuple[str, ...]] = ()  # what evaluate returns, for --help and the logs
    monitor: ClassVar[tuple[str, str]] = ("val_loss", "min")  # the validation value early stopping watches

    def __init__(
        self,
        options: TaskOptions | None = None,
        vocabs: dict[str, Vocab] | None = None,
        fitted: dict[str, Any] | None = None,
    ) -> None:
        options = self.options_class() if options is None else options
        if not isinstance(options, self.options_class):
            raise TypeError(f"{type(self).__name__} takes {self.options_class.__name__}, got {type(options).__name__}")
        self.options = options
        self.vocabs: dict[str, Vocab] = dict(vocabs or {})  # saved as vocab/NAME.json
        self.fitted: dict[str, Any] = dict(fitted or {})  # other JSON-able facts learned by fit (tokenizer, means)

    # Data.

    def read_splits(self, data: str) -> Splits:
        """The train/validation/test examples of ``data`` (``builtin:NAME`` or a path), each split cut to
        ``options.limit`` examples."""
        return read_splits(data, self.name, limit=self.options.limit)

    @abstractmethod
    def fit(self, splits: Splits) -> None:
        """Build the vocabularies from the training split (the data set's name picks the tokenizer that
        prediction uses on raw text; class names come from all splits)."""

    @abstractmethod
    def batches(self, examples: Sequence[Any], *, train: bool, seed: int = 0) -> Any:
        """A deterministic, resumable batch source over ``examples`` (shuffled when ``train``)."""

    def vocab(self, name: str) -> Vocab:
        if name not in self.vocabs:
            raise RuntimeError(f"the {self.name} task has no {name!r} vocabulary yet: call fit() or load() first")
        return self.vocabs[name]

    # Model.

    @abstractmethod
    def derived_config(self) -> dict[str, Any]:
        """The model config fields that come from the data (vocabulary sizes, class counts)."""

    def model_config(self, model_options: dict[str, Any] | None = None) -> Any:
        """The model's config: ``model_defaults``, then ``model_options``, then the data-derived fields."""
        model_options = dict(model_options or {})
        clash = sorted(set(model_options) & set(self.derived_fields))
        if clash:
            raise ValueError(f"model options {clash} are set from the data by the {self.name} task; leave them out")
        return self.model_config_class(**{**self.model_defaults, **model_options, **self.derived_config()})

    def build_model(self, model_options: dict[str, Any] | None = None) -> nn.Module:
        return self.model_class(self.model_config(model_options))

    # Training, evaluation, prediction.

    @abstractmethod
    def step(self, model: nn.Module, batch: Any, carry: Any) -> StepOutput:
        """The loss of one batch, for the trainer."""

    @abstractmethod
    def evaluate(self, model: nn.Module, examples: Sequence[Any], **options: Any) -> dict[str, float]:
        """The task's metrics on ``examples``."""

    @abstractmethod
    def predict(self, model: nn.Module, lines: Iterable[str], **options: Any) -> Iterator[str]:
        """One output line per input line."""

    # Saving beside a model.

    def save(self, folder: str | Path) -> None:
        """Write the options and fitted facts to ``task.json`` and each vocabulary to ``vocab/NAME.json``."""
        folder = Path(folder)
        (folder / VOCAB_DIR).mkdir(parents=True, exist_ok=True)
        record = {"task": self.name, "options": dataclasses.asdict(self.options), "fitted": self.fitted,
                  "vocabs": sorted(self.vocabs)}
        (folder / OPTIONS_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        for name, vocab in self.vocabs.items():
            vocab.save(folder / VOCAB_DIR / f"{name}.json")

    @classmethod
    def load(cls, folder: str | Path) -> TaskAdapter:
        """The task saved in ``folder`` by :meth:`save`."""
        folder = Path(folder)
        path = folder / OPTIONS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{folder} holds no {OPTIONS_FILE}: not a run folder of rnnkit train")
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("task") != cls.name:
            raise ValueError(f"{path}: saved by the {record.get('task')!r} task, not {cls.name!r}")
        options = cls.options_class(**record["options"])
        vocabs = {name: Vocab.load(folder / VOCAB_DIR / f"{name}.json") for name in record["vocabs"]}
        return cls(options, vocabs, record["fitted"])
