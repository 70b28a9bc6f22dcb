"""generate: a sequence written from a condition (one-to-many), e.g. a speech given its play.

Data: ``CONDITION<TAB>TEXT`` lines (or a CSV of condition and text with a header), or documents of labelled sentences (``builtin:shakespeare-scenes``:
every speech, conditioned on its play). Training is teacher-forced (the masked NLL of each next token);
evaluation reports the perplexity of the held-out sequences given their conditions. Prediction reads a
condition a line and writes its likeliest sequence (greedy); :meth:`GenerateTask.generate` samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rnnkit.data import Vocab, generation_source, joiner
from rnnkit.decoding import greedy as greedy_decode
from rnnkit.decoding import sample
from rnnkit.losses import sequence_nll
from rnnkit.models import ConditionalGenerator, ConditionalGeneratorConfig
from rnnkit.tasks.base import TaskAdapter, TaskOptions
from rnnkit.tasks.errors import TaskError
from rnnkit.tasks.splits import Splits
from rnnkit.training.task import StepOutput


@dataclass
class GenerateOptions(TaskOptions):
    """Options of the generate task."""

    max_len: int | None = 60  # train on at most this many tokens of each sequence; None: whole sequences
    min_freq: int = 2  # a token seen fewer times in training maps to <unk>
    max_vocab: int | None = 20_000  # keep at most this many tokens; None: all
    predict_length: int = 60  # longest sequence written by rnnkit predict

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least(1, "max_len", optional=True)
        self.check_at_least(1, "min_freq", "predict_length")


class GenerateTask(TaskAdapter):
    """Conditional generation (:class:`rnnkit.models.ConditionalGenerator`) from a label."""

    name = "generate"
    summary = "a sequence from a condition (speeches given their play, shakespeare-scenes): perplexity, sampling"
    options_class = GenerateOptions
    model_class = ConditionalGenerator
    model_config_class = ConditionalGeneratorConfig
    derived_fields = ("vocab_size", "num_labels", "condition_size", "padding_idx")
    model_defaults = {"cell": "lstm", "hidden_size": 256}
    default_data = "builtin:shakespeare-scenes"
    metric_names = ("perplexity", "loss")
    options: GenerateOptions

    def fit(self, splits: Splits) -> None:
        o = self.options
        self.vocabs["conditions"] = Vocab.for_labels(e.condition for part in splits.present() for e in part)
        self.vocabs["tokens"] = Vocab.build(
            (e.tokens[: o.max_len] for e in splits.train), min_freq=o.min_freq, max_size=o.max_vocab
        )
        self.fitted["joiner"] = joiner(self.tokenizer_for(splits))

    def derived_config(self) -> dict[str, Any]:
        return {"vocab_size": len(self.vocab("tokens")), "num_labels": len(self.vocab("conditions")),
                "condition_size": None, "padding_idx": self.vocab("tokens").pad_id}

    def batches(self, examples: Sequence[Any], *, train: bool, seed: int = 0) -> Any:
        o = self.options
        self.check_known("conditions", (e.condition for e in examples), "conditions")
        return generation_source(
            examples, self.vocab("conditions"), self.vocab("tokens"),
            batch_size=o.batch_size if train else o.eval_batch_size, seed=seed, shuffle=train, max_len=o.max_len,
        )

    def step(self, model: nn.Module, batch: Any, carry: Any) -> StepOutput:
        logits = model(batch.condition, batch.tgt_in)  # (B, T, V)
        mask = batch.tgt_mask
        return StepOutput(sequence_nll(logits, batch.tgt_out, mask), {}, None, weight=float(mask.sum()))

    def evaluate(self, model: nn.Module, examples: Sequence[Any], **options: Any) -> dict[str, float]:
        self.refuse_options(options)
        means, tokens = self.mean_over(model, self.batches(examples, train=False))
        return {"perplexity": math.exp(means["loss"]), "loss": means["loss"], "tokens": tokens}

    def _conditions(self, model: nn.Module, condition: str, rows: int) -> torch.Tensor:
        conditions = self.vocab("conditions")
        if condition not in conditions:
            shown = ", ".join(conditions.symbols[:12]) + (" ..." if len(conditions) > 12 else "")
            raise TaskError(f"unknown condition {condition!r}; the model knows {len(conditions)}: {shown}")
        device = next(model.parameters()).device
        return torch.full((rows,), conditions.id(condition), dtype=torch.long, device=device)

    @torch.no_grad()
    def generate(
        self, model: nn.Module, *, prime: str = "", condition: str | None = None, length: int = 60, num: int = 1,
        temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None, greedy: bool = False,
        seed: int = 0,
    ) -> list[str]:
        """``num`` sequences for ``condition``, each at most ``length`` tokens."""
        if condition is None:
            raise TaskError("a generate run needs --condition (one of the labels it was trained on)")
        if prime:
            raise TaskError("a generate run takes --condition, not --prime")
        model.eval()
        vocab = self.vocab("tokens")
        state = model.start(self._conditions(model, condition, num))
        if greedy:
            decoded = greedy_decode(model, state, vocab.bos_id, vocab.eos_id, length)
        else:
            generator = torch.Generator().manual_seed(seed)
            decoded = sample(model, state, vocab.bos_id, vocab.eos_id, length, temperature=temperature,
                             top_k=top_k, top_p=top_p, generator=generator)
        return [self.fitted["joiner"].join(vocab.decode(tokens)) for tokens in decoded.tokens]

    def predict(self, model: nn.Module, lines: Iterable[str], **options: Any) -> Iterator[str]:
        """Each line is a condition; its likeliest sequence (greedy)."""
        self.refuse_options(options)
        for line in lines:
            yield self.generate(model, condition=line.strip(), length=self.options.predict_length, greedy=True)[0]
