"""tag: one tag per token (synchronous many-to-many).

Data: a CoNLL-style file (a token and its tag a line, in columns, a blank line between sequences), or a
text stream read as word segmentation (``builtin:shakespeare``: each line without its spaces, every character tagged ``B``
if it begins a word, else ``I``; see :mod:`rnnkit.tasks.splits`). The loss is the masked cross-entropy of
the tags; evaluation reports the tag accuracy over all real tokens.

Prediction tags each line's tokens and prints the tags, space-separated: the tokens are the line's words
split at white space, as in the files (for word segmentation, its characters with spaces left out).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rnnkit.data import Vocab, get_tokenizer, tagging_source
from rnnkit.losses import sequence_nll
from rnnkit.metrics import accuracy
from rnnkit.models import SequenceTagger, SequenceTaggerConfig
from rnnkit.tasks.base import TaskAdapter, TaskOptions
from rnnkit.tasks.splits import Splits
from rnnkit.training.task import StepOutput


@dataclass
class TagOptions(TaskOptions):
    """Options of the tag task."""

    min_freq: int = 1  # a token seen fewer times in training maps to <unk>

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least(1, "min_freq")


class TagTask(TaskAdapter):
    """Sequence tagging (:class:`rnnkit.models.SequenceTagger`)."""

    name = "tag"
    summary = "a tag per token (CoNLL token/tag files; word segmentation of shakespeare): tag accuracy"
    options_class = TagOptions
    model_class = SequenceTagger
    model_config_class = SequenceTaggerConfig
    derived_fields = ("num_tags", "vocab_size", "input_size", "padding_idx")
    model_defaults = {"cell": "gru", "bidirectional": True, "hidden_size": 128}
    default_data = "builtin:shakespeare"
    metric_names = ("accuracy", "loss")
    tokenizer_reads_files = False  # CoNLL tokens come split; the tokenizer splits the lines given to predict
    options: TagOptions

    def fit(self, splits: Splits) -> None:
        self.fitted["tokenizer"] = self.tokenizer_for(splits)
        self.vocabs["tokens"] = Vocab.build((e.tokens for e in splits.train), min_freq=self.options.min_freq)
        # Padding positions take tag id 0 and are masked, so the tag vocabulary keeps <pad> first.
        self.vocabs["tags"] = Vocab.build((e.tags for part in splits.present() for e in part), specials=("<pad>",))

    def derived_config(self) -> dict[str, Any]:
        return {"num_tags": len(self.vocab("tags")), "vocab_size": len(self.vocab("tokens")), "input_size": None,
                "padding_idx": self.vocab("tokens").pad_id}

    def batches(self, examples: Sequence[Any], *, train: bool, seed: int = 0) -> Any:
        size = self.options.batch_size if train else self.options.eval_batch_size
        self.check_known("tags", (t for e in examples for t in e.tags), "tags")
        return tagging_source(examples, self.vocab("tokens"), self.vocab("tags"), batch_size=size, seed=seed,
                              shuffle=train)

    def step(self, model: nn.Module, batch: Any, carry: Any) -> StepOutput:
        logits = model(batch.tokens, batch.lengths)  # (B, T, K)
        mask = batch.mask
        loss = sequence_nll(logits, batch.tags, mask)
        logs = {"accuracy": accuracy(logits.detach(), batch.tags, mask)}
        return StepOutput(loss, logs, None, weight=float(mask.sum()))

    def evaluate(self, model: nn.Module, examples: Sequence[Any], **options: Any) -> dict[str, float]:
        self.refuse_options(options)
        means, tokens = self.mean_over(model, self.batches(examples, train=False))
        return {"accuracy": means["accuracy"], "loss": means["loss"], "tokens": tokens}

    @torch.no_grad()
    def predict(self, model: nn.Module, lines: Iterable[str], **options: Any) -> Iterator[str]:
        self.refuse_options(options)
        model.eval()
        tags = self.vocab("tags")
        tokenize = get_tokenizer(self.fitted["tokenizer"])
        for line in lines:
            tokens = tokenize(line)
            if not tokens:
                yield ""
                continue
            ids = torch.tensor([self.vocab("tokens").encode(tokens)])  # (1, T)
            predicted = model(ids, torch.tensor([len(tokens)]))[0, :, 1:].argmax(-1) + 1  # never <pad>
            yield " ".join(tags.symbols[int(i)] for i in predicted)
