"""seq2seq: a source sequence to a target sequence of another length (grapheme-to-phoneme, replies).

Training minimises the masked negative log-likelihood of the target tokens, with the decoder fed the
true previous token (teacher forcing) or, with probability ``1 - teacher_forcing``, its own prediction
(scheduled sampling; the trainer passes the ratio at every step).

Evaluation decodes every distinct source (greedy, or beam search with ``beam_size > 1``) and scores the
outputs against *all* targets given for that source: an output is right if it equals any of them, and its
edit distance is the one to the closest (a word with two pronunciations has two right answers).

- ``token_error_rate``: total edit distance over total reference length; on CMUdict the phoneme
  error rate (PER);
- ``sequence_error_rate``: the fraction of sources whose output equals none of its targets; on CMUdict
  the word error rate (WER) of grapheme-to-phoneme work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from rnnkit.data.encode import seq2seq_source
from rnnkit.data.examples import Seq2SeqExample
from rnnkit.data.tokenize import get_tokenizer, joiner
from rnnkit.data.vocab import Vocab
from rnnkit.decoding import beam_search, greedy
from rnnkit.losses import sequence_nll
from rnnkit.metrics import accuracy, error_rate, sequence_error_rate
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.tasks.base import TaskAdapter, TaskOptions
from rnnkit.tasks.errors import ConfigError, TaskError
from rnnkit.tasks.splits import Splits
from rnnkit.training.task import StepOutput


@dataclass
class Seq2SeqOptions(TaskOptions):
    """Options of the seq2seq task."""

    max_len: int | None = None  # cut sources and targets to this many tokens; None: keep them whole
    min_freq: int = 1  # a symbol seen fewer times in training maps to <unk>
    label_smoothing: float = 0.0  # spread this much target probability over the vocabulary (regularises)
    beam_size: int = 1  # evaluation and prediction: 1 decodes greedily, more keeps that many hypotheses
    length_penalty: float = 0.0  # beam search's GNMT alpha: > 0 favours longer outputs; 0 ranks by log p
    max_output_len: int | None = None  # longest output decoded; None: 1.5x the longest training target + 5

    def __post_init__(self) -> None:
        super().__post_init__()
        self.check_at_least(1, "max_len", "max_output_len", optional=True)
        self.check_at_least(1, "min_freq", "beam_size")
        self.check_at_least(0, "length_penalty")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"Seq2SeqOptions.label_smoothing must be in [0, 1), got {self.label_smoothing!r}")


class Seq2SeqTask(TaskAdapter):
    """Encoder-decoder with attention (:class:`rnnkit.models.Seq2Seq`) on source/target pairs."""

    name = "seq2seq"
    summary = "sequence to sequence of another length (g2p on cmudict, replies): Seq2Seq with attention"
    options_class = Seq2SeqOptions
    model_class = Seq2Seq
    model_config_class = Seq2SeqConfig
    derived_fields = ("src_vocab_size", "tgt_vocab_size", "padding_idx")
    model_defaults = {"cell": "gru", "bidirectional": True, "attention": "general", "hidden_size": 256}
    default_data = "builtin:cmudict"
    metric_names = ("token_error_rate", "sequence_error_rate")
    options: Seq2SeqOptions

    def fit(self, splits: Splits) -> None:
        o, train = self.options, splits.train
        self.vocabs["src"] = Vocab.build((e.src[: o.max_len] for e in train), min_freq=o.min_freq)
        self.vocabs["tgt"] = Vocab.build((e.tgt[: o.max_len] for e in train), min_freq=o.min_freq)
        longest = max(len(e.tgt[: o.max_len]) for e in train)
        self.fitted["max_output_len"] = o.max_output_len or int(1.5 * longest) + 5
        self.fitted["tokenizer"] = self.tokenizer_for(splits)
        self.fitted["joiner"] = joiner(splits.target_tokenizer or "spaces")
        self.fitted["metric_labels"] = (
            {"token_error_rate": "phoneme error rate (PER)", "sequence_error_rate": "word error rate (WER)",
             "sources": "words"}
            if splits.builtin and splits.name == "cmudict"
            else {}
        )

    def derived_config(self) -> dict[str, Any]:
        return {
            "src_vocab_size": len(self.vocab("src")),
            "tgt_vocab_size": len(self.vocab("tgt")),
            "padding_idx": self.vocab("src").pad_id,
        }

    def batches(self, examples: Sequence[Seq2SeqExample], *, train: bool, seed: int = 0) -> Any:
        o = self.options
        return seq2seq_source(
            examples, self.vocab("src"), self.vocab("tgt"),
            batch_size=o.batch_size if train else o.eval_batch_size, seed=seed, shuffle=train, max_len=o.max_len,
        )

    def step(self, model: nn.Module, batch: Any, carry: Any, teacher_forcing: float = 1.0) -> StepOutput:
        out = model(batch.src, batch.src_lengths, batch.tgt_in, teacher_forcing=teacher_forcing)
        mask = batch.tgt_mask  # (B, T')
        loss = sequence_nll(out.logits, batch.tgt_out, mask, label_smoothing=self.options.label_smoothing)
        tokens = int(mask.sum())
        logs = {"token_accuracy": accuracy(out.logits.detach(), batch.tgt_out, mask)}
        return StepOutput(loss, logs, None, weight=float(tokens))

    # Decoding.

    @torch.no_grad()
    def translate(
        self, model: nn.Module, sources: Sequence[Sequence[str]], *, beam_size: int | None = None,
        n_best: int = 1, length_penalty: float | None = None,
    ) -> list[list[list[str]]]:
        """The ``n_best`` outputs (symbol lists, best first) of each source, in the order given."""
        o = self.options
        beam_size = o.beam_size if beam_size is None else beam_size
        alpha = o.length_penalty if length_penalty is None else length_penalty
        if n_best > beam_size:
            raise TaskError(f"n_best ({n_best}) cannot exceed the beam size ({beam_size})")
        src_vocab, tgt_vocab = self.vocab("src"), self.vocab("tgt")
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        order = sorted(range(len(sources)), key=lambda i: -len(sources[i]))  # similar lengths batch together
        outputs: list[list[list[str]]] = [[] for _ in sources]
        size = max(1, o.eval_batch_size // beam_size)
        for start in range(0, len(order), size):
            rows = order[start : start + size]
            ids = [src_vocab.encode(list(sources[r])[: o.max_len]) or [src_vocab.unk_id] for r in rows]
            lengths = torch.tensor([len(x) for x in ids], dtype=torch.long)
            src = torch.zeros(len(ids), int(lengths.max()), dtype=torch.long)  # (B, S) padded with 0
            for b, x in enumerate(ids):
                src[b, : len(x)] = torch.tensor(x)
            state = model.start(src.to(device), lengths.to(device))
            max_len = self.fitted["max_output_len"]
            if beam_size == 1:
                decoded = greedy(model, state, tgt_vocab.bos_id, tgt_vocab.eos_id, max_len)
                hypotheses = [[tokens] for tokens in decoded.tokens]
            else:
                result = beam_search(
                    model, state, tgt_vocab.bos_id, tgt_vocab.eos_id, max_len,
                    beam_size=beam_size, n_best=n_best, alpha=alpha,
                )
                hypotheses = [[h.tokens for h in best] for best in result.n_best]
            for r, hyps in zip(rows, hypotheses):
                outputs[r] = [tgt_vocab.decode(tokens) for tokens in hyps]
        model.train(was_training)
        return outputs

    def evaluate(
        self, model: nn.Module, examples: Sequence[Seq2SeqExample], *, beam_size: int | None = None,
        length_penalty: float | None = None,
    ) -> dict[str, float]:
        references: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for e in examples:
            references.setdefault(e.src, []).append(e.tgt)
        sources = list(references)
        outputs = self.translate(model, sources, beam_size=beam_size, length_penalty=length_penalty)
        hyps = [best[0] for best in outputs]
        refs = [[list(t) for t in references[s]] for s in sources]
        return {
            "token_error_rate": error_rate(hyps, refs, multi_reference=True),
            "sequence_error_rate": sequence_error_rate(hyps, refs, multi_reference=True),
            "sources": float(len(sources)),
        }

    def predict(
        self, model: nn.Module, lines: Iterable[str], *, beam_size: int | None = None, n_best: int = 1,
        length_penalty: float | None = None,
    ) -> Iterator[str]:
        """Each line's best output (``n_best`` > 1: the best outputs, separated by tabs)."""
        lines = list(lines)
        tokenize = get_tokenizer(self.fitted["tokenizer"])
        sources = [tokenize(line.strip()) for line in lines]
        glue = self.fitted["joiner"]
        outputs = self.translate(model, sources, beam_size=beam_size, n_best=n_best, length_penalty=length_penalty)
        for hyps in outputs:
            yield "\t".join(glue.join(h) for h in hyps)
