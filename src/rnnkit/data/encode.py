"""Examples + vocabularies -> batch sources, one builder per task.

Every example is turned into id tensors once, when the source is built; a batch is then only padding.
Sequences are bucketed by length (``BucketBatchSource``); language-model text becomes parallel streams
(``StreamBatchSource``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

from .batch import (
    ClassificationBatch,
    DocumentBatch,
    GenerationBatch,
    Seq2SeqBatch,
    SeriesBatch,
    TaggingBatch,
)
from .examples import (
    ClassificationExample,
    DocumentExample,
    GenerationExample,
    Seq2SeqExample,
    SeriesExample,
    TaggingExample,
)
from .sources import BucketBatchSource, StreamBatchSource
from .vocab import Vocab


def _ids(symbols: Sequence[str], vocab: Vocab, *, bos: bool = False, eos: bool = False) -> Tensor:
    return torch.tensor(vocab.encode(symbols, bos=bos, eos=eos), dtype=torch.long)


class _Packed:
    """Many id sequences in one flat tensor, padded into a batch by indexing.

    A tensor per sequence would cost more than the encoding itself on 100k examples; here a batch is
    one gather: ``out[b, t] = flat[offsets[r_b] + t]`` where ``t < lengths[r_b]``, else ``<pad>`` 0.
    """

    def __init__(self, seqs: Sequence[Sequence[str]], vocab: Vocab, *, bos: bool = False, eos: bool = False):
        encoded = [vocab.encode(s, bos=bos, eos=eos) for s in seqs]
        self.lengths = torch.tensor([len(e) for e in encoded], dtype=torch.long)  # (N,)
        self.offsets = torch.cumsum(self.lengths, 0) - self.lengths  # (N,)
        self.flat = torch.tensor([i for e in encoded for i in e], dtype=torch.long)  # (sum of lengths,)

    def pad(self, rows: list[int], *, skip_first: bool = False, skip_last: bool = False) -> tuple[Tensor, Tensor]:
        """``(ids (B, T), lengths (B,))`` of ``rows``, without each sequence's first or last id when asked
        (``<bos> y <eos>`` gives ``tgt_in`` without the last and ``tgt_out`` without the first)."""
        idx = torch.tensor(rows, dtype=torch.long)
        lengths = self.lengths[idx] - int(skip_first) - int(skip_last)  # (B,)
        t = torch.arange(int(lengths.max()))  # (T,)
        pos = self.offsets[idx, None] + int(skip_first) + t[None, :]  # (B, T)
        mask = t[None, :] < lengths[:, None]  # (B, T)
        ids = torch.where(mask, self.flat[pos.clamp(max=max(len(self.flat) - 1, 0))], 0)
        return ids, lengths


def _pad(seqs: list[Tensor], value: float = 0) -> Tensor:
    return pad_sequence(seqs, batch_first=True, padding_value=value)  # (B, T_max, ...)


def _check_nonempty(lengths: Tensor, what: str) -> None:
    empty = (lengths == 0).nonzero()
    if len(empty):
        raise ValueError(f"example {int(empty[0])} has an empty {what}; a sequence needs at least one step")


def _lengths(seqs: list[Tensor], rows: list[int]) -> Tensor:
    return torch.tensor([len(seqs[r]) for r in rows], dtype=torch.long)


def classification_source(
    examples: Sequence[ClassificationExample],
    vocab: Vocab,
    labels: Vocab,
    *,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
    max_len: int | None = None,
) -> BucketBatchSource[ClassificationBatch]:
    """Token sequences (truncated to ``max_len`` when given) and their labels."""
    toks = _Packed([e.tokens[:max_len] for e in examples], vocab)
    _check_nonempty(toks.lengths, "token sequence")
    y = torch.tensor([labels.id(e.label) for e in examples], dtype=torch.long)

    def collate(rows: list[int]) -> ClassificationBatch:
        return ClassificationBatch(*toks.pad(rows), y[rows], torch.tensor(rows))

    return BucketBatchSource(toks.lengths.tolist(), collate, batch_size=batch_size, seed=seed, shuffle=shuffle)


def series_source(
    examples: Sequence[SeriesExample],
    labels: Vocab,
    *,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
    mean: np.ndarray | None = None,
    std: np.ndarray | None = None,
) -> BucketBatchSource[SeriesBatch]:
    """Real-valued series (T, C); standardized per channel by ``(x - mean) / std`` when both are given
    (compute them on the training split with ``channel_stats``)."""
    xs = []
    for i, e in enumerate(examples):
        v = np.asarray(e.values, dtype=np.float32)
        if mean is not None and std is not None:
            v = (v - mean) / std
        if len(v) == 0:
            raise ValueError(f"example {i} has an empty series; a sequence needs at least one step")
        xs.append(torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)))
    y = torch.tensor([labels.id(e.label) for e in examples], dtype=torch.long)

    def collate(rows: list[int]) -> SeriesBatch:
        return SeriesBatch(_pad([xs[r] for r in rows]), _lengths(xs, rows), y[rows], torch.tensor(rows))

    return BucketBatchSource([len(x) for x in xs], collate, batch_size=batch_size, seed=seed, shuffle=shuffle)


def channel_stats(examples: Sequence[SeriesExample]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over every step of every series: (C,), (C,)."""
    allv = np.concatenate([np.asarray(e.values, dtype=np.float64) for e in examples])  # (sum T, C)
    std = allv.std(0)
    return allv.mean(0).astype(np.float32), np.where(std > 0, std, 1.0).astype(np.float32)


def tagging_source(
    examples: Sequence[TaggingExample],
    vocab: Vocab,
    tags: Vocab,
    *,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
) -> BucketBatchSource[TaggingBatch]:
    """Tokens and one tag per token; tags are padded with the tag vocabulary's id 0."""
    for i, e in enumerate(examples):
        if len(e.tokens) != len(e.tags):
            raise ValueError(f"example {i} has {len(e.tokens)} tokens but {len(e.tags)} tags")
    toks = _Packed([e.tokens for e in examples], vocab)
    tg = _Packed([e.tags for e in examples], tags)
    _check_nonempty(toks.lengths, "token sequence")

    def collate(rows: list[int]) -> TaggingBatch:
        return TaggingBatch(*toks.pad(rows), tg.pad(rows)[0], torch.tensor(rows))

    return BucketBatchSource(toks.lengths.tolist(), collate, batch_size=batch_size, seed=seed, shuffle=shuffle)


def seq2seq_source(
    examples: Sequence[Seq2SeqExample],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    *,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
    max_len: int | None = None,
) -> BucketBatchSource[Seq2SeqBatch]:
    """Source/target pairs; both sides truncated to ``max_len`` tokens when given."""
    src = _Packed([e.src[:max_len] for e in examples], src_vocab)
    tgt = _Packed([e.tgt[:max_len] for e in examples], tgt_vocab, bos=True, eos=True)  # <bos> y <eos>
    _check_nonempty(src.lengths, "source")

    def collate(rows: list[int]) -> Seq2SeqBatch:
        tgt_in, tgt_lengths = tgt.pad(rows, skip_last=True)
        tgt_out, _ = tgt.pad(rows, skip_first=True)
        return Seq2SeqBatch(*src.pad(rows), tgt_in, tgt_out, tgt_lengths, torch.tensor(rows))

    # Sort by source length, then target length: both sides pad little.
    keys = (src.lengths * 100_000 + tgt.lengths).tolist()
    return BucketBatchSource(keys, collate, batch_size=batch_size, seed=seed, shuffle=shuffle)


def generation_source(
    examples: Sequence[GenerationExample],
    conditions: Vocab,
    vocab: Vocab,
    *,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
    max_len: int | None = None,
) -> BucketBatchSource[GenerationBatch]:
    """A condition symbol and the sequence to generate from it (truncated to ``max_len`` when given)."""
    cond = torch.tensor([conditions.id(e.condition) for e in examples], dtype=torch.long)
    tgt = _Packed([e.tokens[:max_len] for e in examples], vocab, bos=True, eos=True)  # <bos> y <eos>

    def collate(rows: list[int]) -> GenerationBatch:
        tgt_in, tgt_lengths = tgt.pad(rows, skip_last=True)
        tgt_out, _ = tgt.pad(rows, skip_first=True)
        return GenerationBatch(cond[rows], tgt_in, tgt_out, tgt_lengths, torch.tensor(rows))

    return BucketBatchSource(tgt.lengths.tolist(), collate, batch_size=batch_size, seed=seed, shuffle=shuffle)


def document_source(
    examples: Sequence[DocumentExample],
    vocab: Vocab,
    labels: Vocab,
    *,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
    max_sentences: int | None = None,
    max_words: int | None = None,
) -> BucketBatchSource[DocumentBatch]:
    """Documents (B, S, W): at most ``max_sentences`` sentences of at most ``max_words`` words each
    when given (long documents otherwise make every batch as large as its longest one)."""
    docs: list[list[Tensor]] = []
    for i, e in enumerate(examples):
        sents = [_ids(s[:max_words], vocab) for s in e.sentences[:max_sentences] if s]
        if not sents:
            raise ValueError(f"example {i} is a document without a non-empty sentence")
        docs.append(sents)
    y = torch.tensor([labels.id(e.label) for e in examples], dtype=torch.long)

    def collate(rows: list[int]) -> DocumentBatch:
        s_max = max(len(docs[r]) for r in rows)
        w_max = max(len(s) for r in rows for s in docs[r])
        out = torch.zeros(len(rows), s_max, w_max, dtype=torch.long)  # (B, S, W)
        words = torch.zeros(len(rows), s_max, dtype=torch.long)  # (B, S)
        for b, r in enumerate(rows):
            for s, sent in enumerate(docs[r]):
                out[b, s, : len(sent)] = sent
                words[b, s] = len(sent)
        counts = torch.tensor([len(docs[r]) for r in rows], dtype=torch.long)
        return DocumentBatch(out, counts, words, y[rows], torch.tensor(rows))

    keys = [len(d) * 10_000 + max(len(s) for s in d) for d in docs]
    return BucketBatchSource(keys, collate, batch_size=batch_size, seed=seed, shuffle=shuffle)


def stream_source(
    tokens: Sequence[str], vocab: Vocab, *, batch_size: int, bptt: int
) -> StreamBatchSource:
    """A language-model stream (e.g. ``tokenize.chars(text)``) as B parallel streams of ``bptt``-step chunks."""
    return StreamBatchSource(_ids(tokens, vocab), batch_size=batch_size, bptt=bptt)
