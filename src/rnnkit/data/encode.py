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


def _pad(seqs: list[Tensor], value: float = 0) -> Tensor:
    return pad_sequence(seqs, batch_first=True, padding_value=value)  # (B, T_max, ...)


def _check_nonempty(n: int, what: str, i: int) -> None:
    if n == 0:
        raise ValueError(f"example {i} has an empty {what}; a sequence needs at least one step")


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
    toks = [_ids(e.tokens[:max_len], vocab) for e in examples]
    for i, t in enumerate(toks):
        _check_nonempty(len(t), "token sequence", i)
    y = torch.tensor([labels.id(e.label) for e in examples], dtype=torch.long)

    def collate(rows: list[int]) -> ClassificationBatch:
        return ClassificationBatch(
            _pad([toks[r] for r in rows]), _lengths(toks, rows), y[rows], torch.tensor(rows)
        )

    return BucketBatchSource([len(t) for t in toks], collate, batch_size=batch_size, seed=seed, shuffle=shuffle)


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
        _check_nonempty(len(v), "series", i)
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
    toks = [_ids(e.tokens, vocab) for e in examples]
    tg = [_ids(e.tags, tags) for e in examples]
    for i, (a, b) in enumerate(zip(toks, tg)):
        _check_nonempty(len(a), "token sequence", i)
        if len(a) != len(b):
            raise ValueError(f"example {i} has {len(a)} tokens but {len(b)} tags")

    def collate(rows: list[int]) -> TaggingBatch:
        return TaggingBatch(
            _pad([toks[r] for r in rows]), _lengths(toks, rows), _pad([tg[r] for r in rows]), torch.tensor(rows)
        )

    return BucketBatchSource([len(t) for t in toks], collate, batch_size=batch_size, seed=seed, shuffle=shuffle)


def _target_pair(tokens: Sequence[str], vocab: Vocab) -> tuple[Tensor, Tensor]:
    """``(<bos> y_1 .. y_n, y_1 .. y_n <eos>)``"""
    ids = _ids(tokens, vocab, bos=True, eos=True)
    return ids[:-1], ids[1:]


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
    src = [_ids(e.src[:max_len], src_vocab) for e in examples]
    tgt = [_target_pair(e.tgt[:max_len], tgt_vocab) for e in examples]
    for i, s in enumerate(src):
        _check_nonempty(len(s), "source", i)

    def collate(rows: list[int]) -> Seq2SeqBatch:
        return Seq2SeqBatch(
            _pad([src[r] for r in rows]),
            _lengths(src, rows),
            _pad([tgt[r][0] for r in rows]),
            _pad([tgt[r][1] for r in rows]),
            torch.tensor([len(tgt[r][0]) for r in rows], dtype=torch.long),
            torch.tensor(rows),
        )

    # Sort by source length, then target length: both sides pad little.
    keys = [len(s) * 100_000 + len(t[0]) for s, t in zip(src, tgt)]
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
    tgt = [_target_pair(e.tokens[:max_len], vocab) for e in examples]

    def collate(rows: list[int]) -> GenerationBatch:
        return GenerationBatch(
            cond[rows],
            _pad([tgt[r][0] for r in rows]),
            _pad([tgt[r][1] for r in rows]),
            torch.tensor([len(tgt[r][0]) for r in rows], dtype=torch.long),
            torch.tensor(rows),
        )

    return BucketBatchSource([len(t[0]) for t in tgt], collate, batch_size=batch_size, seed=seed, shuffle=shuffle)


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
        _check_nonempty(len(sents), "document (no non-empty sentence)", i)
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
