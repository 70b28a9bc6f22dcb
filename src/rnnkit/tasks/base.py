"""The task adapter: what joins a data set's batches to a model, for training, evaluation and prediction.

A model knows nothing of data and the trainer knows nothing of models; a task adapter knows both sides
of one task (classify, tag, lm, generate, seq2seq, han):

- its typed options (:class:`TaskOptions` and a subclass per task: batch size, slicing, lengths);
- which model it trains (``model_class`` built from ``model_config_class``), which config fields come
  from the data (``derived_fields``: vocabulary sizes, class counts) and the sizes that suit it
  (``model_defaults``);
- how to read a data set into splits (:meth:`read_splits`: a built-in, or a user's files through the
  readers of :mod:`rnnkit.data.files`), build its vocabularies from the training split (:meth:`fit`;
  the data set's tokenizer is kept, so prediction splits new text alike) and batch a split
  (:meth:`batches`);
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from rnnkit.data.tokenize import TokenizerName
from rnnkit.data.vocab import Vocab
from rnnkit.tasks.errors import ConfigError, TaskError
from rnnkit.tasks.splits import Splits, read_splits
from rnnkit.training.task import StepOutput

Tokenizer = Literal["auto", TokenizerName]

OPTIONS_FILE = "task.json"
VOCAB_DIR = "vocab"


@dataclass
class TaskOptions:
    """Data options every task shares."""

    # Keep only N examples of each split, spread evenly over it (quick looks, tests; every class of a sorted
    # data set stays in); a text stream keeps its first N * 100 characters. None: all
    limit: int | None = None
    batch_size: int = 32  # examples per training batch
    eval_batch_size: int = 256  # examples per evaluation and prediction batch (no gradients: bigger is fine)
    # How text becomes tokens, in your files and in the lines given to predict (lower_words: lowercased
    # words and punctuation). auto: as the data set was split (a built-in's own; for your files the
    # reader's: lower_words, or characters for lm text, white space for CoNLL tokens).
    tokenizer: Tokenizer = "auto"
    valid_fraction: float = 0.1  # your files without --valid: hold out this share of --data to validate on
    test_fraction: float = 0.1  # your files without --test: hold out this share of --data to test on
    # Options for the reader of your files, e.g. {"text_column": "review", "delimiter": ";"} (docs/DATA.md)
    read: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.check_at_least(1, "batch_size", "eval_batch_size")
        self.check_at_least(1, "limit", optional=True)
        for name in ("valid_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ConfigError(f"{type(self).__name__}.{name} must be in [0, 1), got {getattr(self, name)!r}")
        if self.valid_fraction + self.test_fraction >= 1.0:
            raise ConfigError(f"{type(self).__name__}: valid_fraction + test_fraction must leave data to train on")

    def check_at_least(self, minimum: float, *names: str, optional: bool = False) -> None:
        """Each field in ``names`` is at least ``minimum`` (or None, when ``optional``)."""
        for name in names:
            value = getattr(self, name)
            if optional and value is None:
                continue
            if value is None or value < minimum:
                allowed = f"at least {minimum}" + (" or None" if optional else "")
                raise ConfigError(f"{type(self).__name__}.{name} must be {allowed}, got {value!r}")


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
    # Whether options.tokenizer also reads a user's files (False: it splits only what reading left whole,
    # a language model's text stream, or the lines given to predict).
    tokenizer_reads_files: ClassVar[bool] = True
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

    def read_splits(
        self, data: str, valid: str | None = None, test: str | None = None, *, hold_out: bool = True
    ) -> Splits:
        """The train/validation/test examples of ``data`` (``builtin:NAME`` or a training file, with
        optional validation and test files), each split cut to ``options.limit`` examples. Without
        ``hold_out`` a file is read whole as the training split (to evaluate on all of it)."""
        o = self.options
        return read_splits(
            data, self.name, valid=valid, test=test, limit=o.limit,
            held_out=(o.valid_fraction, o.test_fraction) if hold_out else (0.0, 0.0),
            tokenizer=o.tokenizer if self.tokenizer_reads_files else "auto", options=self.reader_options(data),
        )

    def reader_options(self, data: str) -> dict[str, Any]:
        """The options for the reader of ``data`` when it is a user's file: ``options.read``."""
        return dict(self.options.read)

    @abstractmethod
    def fit(self, splits: Splits) -> None:
        """Build the vocabularies from the training split (class names come from all splits) and keep
        the tokenizer prediction splits new text with (:meth:`tokenizer_for`)."""

    def tokenizer_for(self, splits: Splits) -> str:
        """How new text is split into tokens: the user's choice, else as the data was split (for tasks
        whose tokenizer reads the files the two agree: reading used the choice, and a built-in's own
        tokenizer is the only one it accepts)."""
        if self.options.tokenizer != "auto":
            return self.options.tokenizer
        if splits.tokenizer is None:
            raise TaskError(f"{splits.name} records no tokenizer for its text; set --task.tokenizer")
        return splits.tokenizer

    @abstractmethod
    def batches(self, examples: Sequence[Any], *, train: bool, seed: int = 0) -> Any:
        """A deterministic, resumable batch source over ``examples`` (shuffled when ``train``)."""

    def check_known(self, name: str, symbols: Iterable[str], what: str) -> None:
        """Every one of ``symbols`` is in vocabulary ``name``: a run cannot score a label, tag or condition
        it was never trained on (other data given to ``rnnkit eval`` may hold one)."""
        vocab = self.vocab(name)
        unknown = sorted({s for s in symbols if s not in vocab})
        if unknown:
            shown = ", ".join(map(repr, unknown[:5])) + (" ..." if len(unknown) > 5 else "")
            raise TaskError(f"{len(unknown)} {what} the run was not trained on: {shown}")

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
            raise ConfigError(f"model options {clash} are set from the data by the {self.name} task; leave them out")
        try:
            return self.model_config_class(**{**self.model_defaults, **model_options, **self.derived_config()})
        except ConfigError:
            raise
        except ValueError as error:  # the config's own checks: a value the user gave
            raise ConfigError(f"model: {error}") from error

    def build_model(self, model_options: dict[str, Any] | None = None) -> nn.Module:
        return self.model_class(self.model_config(model_options))

    # Training, evaluation, prediction.

    @abstractmethod
    def step(self, model: nn.Module, batch: Any, carry: Any) -> StepOutput:
        """The loss of one batch, for the trainer."""

    @abstractmethod
    def evaluate(self, model: nn.Module, examples: Sequence[Any], **options: Any) -> dict[str, float]:
        """The task's metrics on ``examples``."""

    @torch.no_grad()
    def mean_over(self, model: nn.Module, source: Any) -> tuple[dict[str, float], float]:
        """The means of the loss and of each logged value over an evaluation source's batches, each batch
        weighted by its step's weight, and the total weight (examples or tokens). The carry goes from
        batch to batch, so a stream is read in order."""
        was_training = model.training
        model.eval()
        sums: dict[str, float] = {}
        total, carry = 0.0, None
        for batch in source.batches(0):
            out = self.step(model, batch, carry)
            carry = out.carry
            for name, value in {"loss": float(out.loss), **out.logs}.items():
                sums[name] = sums.get(name, 0.0) + value * out.weight
            total += out.weight
        model.train(was_training)
        return {name: value / (total or 1.0) for name, value in sums.items()}, total

    def refuse_options(self, options: dict[str, Any]) -> None:
        """Decoding options (beam size, length penalty) mean something to seq2seq only."""
        if options:
            raise TaskError(f"the {self.name} task takes no decoding options, got {sorted(options)}")

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
            raise TaskError(f"{path}: saved by the {record.get('task')!r} task, not {cls.name!r}")
        options = cls.options_class(**record["options"])
        vocabs = {name: Vocab.load(folder / VOCAB_DIR / f"{name}.json") for name in record["vocabs"]}
        return cls(options, vocabs, record["fitted"])
