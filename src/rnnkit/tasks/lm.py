"""lm: a language model over one long text stream, trained by truncated backpropagation through time.

The stream is laid out as ``batch_size`` parallel streams cut into chunks of ``bptt`` tokens
(:class:`rnnkit.data.StreamBatchSource`); row ``b`` of a chunk continues row ``b`` of the one before, so
:meth:`LanguageModelTask.step` hands the model's final state on as the *carry* and the next chunk starts
from it. The trainer detaches the carry after each step (the gradient stops at the chunk boundary, the
state does not) and resets it at each epoch start.

Evaluation reads the validation stream the same way and reports the perplexity
``exp(mean NLL per token)``; prediction continues each input line greedily to the end of its line;
:meth:`LanguageModelTask.generate` samples text after a prime (temperature, top-k, top-p).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rnnkit.data.encode import stream_source
from rnnkit.data.tokenize import get_tokenizer, joiner
from rnnkit.data.vocab import Vocab
from rnnkit.decoding import greedy as greedy_decode
from rnnkit.decoding import sample
from rnnkit.losses import sequence_nll
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.tasks.base import TaskAdapter, TaskOptions
from rnnkit.tasks.errors import TaskError
from rnnkit.tasks.splits import Splits
from rnnkit.training.task import StepOutput


@dataclass
class LanguageModelOptions(TaskOptions):
    """Options of the lm task (``batch_size`` is the number of parallel streams)."""

    bptt: int = 100  # tokens per chunk: the gradient reaches this far back; the state reaches further
    min_freq: int = 1  # a token seen fewer times in training maps to <unk>
    max_vocab: int | None = None  # keep at most this many tokens (word-level text); None: all
    predict_length: int = 200  # rnnkit predict: most tokens added to each line

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least(1, "bptt", "min_freq", "predict_length")
        self.check_at_least(5, "max_vocab", optional=True)


class LanguageModelTask(TaskAdapter):
    """Next-token prediction on a text stream (:class:`rnnkit.models.LanguageModel`)."""

    name = "lm"
    summary = "language model over a text stream (shakespeare; any text file): truncated BPTT, perplexity"
    options_class = LanguageModelOptions
    model_class = LanguageModel
    model_config_class = LanguageModelConfig
    derived_fields = ("vocab_size", "padding_idx")
    model_defaults = {"cell": "lstm", "hidden_size": 256}
    default_data = "builtin:shakespeare"
    metric_names = ("perplexity", "loss")
    tokenizer_reads_files = False  # the text is read whole; the task splits the stream
    options: LanguageModelOptions

    def fit(self, splits: Splits) -> None:
        tokenizer = self.tokenizer_for(splits)
        self.fitted["tokenizer"] = tokenizer
        self.fitted["joiner"] = joiner(tokenizer)
        o = self.options
        tokens = get_tokenizer(tokenizer)(splits.train)
        self.vocabs["tokens"] = Vocab.build([tokens], min_freq=o.min_freq, max_size=o.max_vocab)

    def derived_config(self) -> dict[str, Any]:
        return {"vocab_size": len(self.vocab("tokens")), "padding_idx": self.vocab("tokens").pad_id}

    def batches(self, examples: str, *, train: bool, seed: int = 0) -> Any:
        o = self.options
        return stream_source(get_tokenizer(self.fitted["tokenizer"])(examples), self.vocab("tokens"),
                             batch_size=o.batch_size, bptt=o.bptt)

    def step(self, model: nn.Module, batch: Any, carry: Any) -> StepOutput:
        out = model(batch.tokens, carry)
        loss = sequence_nll(out.logits, batch.targets, batch.mask)
        tokens = int(batch.mask.sum())
        return StepOutput(loss, {}, out.state, weight=float(tokens))

    def evaluate(self, model: nn.Module, examples: str, **options: Any) -> dict[str, float]:
        self.refuse_options(options)
        means, tokens = self.mean_over(model, self.batches(examples, train=False))
        return {"perplexity": math.exp(means["loss"]), "loss": means["loss"], "tokens": tokens}

    # Generation.

    def _prime(self, model: nn.Module, text: str, rows: int) -> tuple[Any, torch.Tensor]:
        """The state after reading ``text`` and the token to feed next, for ``rows`` copies."""
        vocab = self.vocab("tokens")
        # Without a prime, generation starts as a line does: after a newline (or <bos> when none was seen).
        start = vocab.id("\n") if "\n" in vocab else vocab.bos_id
        ids = vocab.encode(get_tokenizer(self.fitted["tokenizer"])(text)) or [start]
        device = next(model.parameters()).device
        tokens = torch.tensor([ids] * rows, dtype=torch.long, device=device)  # (rows, T)
        return model.prime(tokens)

    @torch.no_grad()
    def generate(
        self, model: nn.Module, *, prime: str = "", condition: str | None = None, length: int = 200, num: int = 1,
        temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None, greedy: bool = False,
        seed: int = 0,
    ) -> list[str]:
        """``num`` continuations of ``prime`` (each includes the prime), at most ``length`` tokens long."""
        if condition is not None:
            raise TaskError("an lm run takes --prime, not --condition")
        model.eval()
        vocab = self.vocab("tokens")
        state, last = self._prime(model, prime, num)
        if greedy:
            decoded = greedy_decode(model, state, last, vocab.eos_id, length)
        else:
            generator = torch.Generator(device=last.device).manual_seed(seed)
            decoded = sample(model, state, last, vocab.eos_id, length, temperature=temperature, top_k=top_k,
                             top_p=top_p, generator=generator)
        glue = self.fitted["joiner"]
        return [prime + (glue if prime and glue else "") + glue.join(vocab.decode(t)) for t in decoded.tokens]

    @torch.no_grad()
    def predict(self, model: nn.Module, lines: Iterable[str], **options: Any) -> Iterator[str]:
        """Each line continued greedily to the end of its line (or ``predict_length`` tokens)."""
        self.refuse_options(options)
        model.eval()
        vocab = self.vocab("tokens")
        end = vocab.id("\n") if "\n" in vocab else vocab.eos_id
        glue = self.fitted["joiner"]
        for line in lines:
            state, last = self._prime(model, line, 1)
            decoded = greedy_decode(model, state, last, end, self.options.predict_length)
            yield glue.join(vocab.decode(decoded.tokens[0]))
