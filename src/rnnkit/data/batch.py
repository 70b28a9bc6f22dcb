"""Batches: small dataclasses of batch-first tensors, one per task, each with ``.to(device)``.

Token ids are padded with the vocabulary's ``<pad>`` id 0; ``lengths`` counts the real steps of each row,
and ``mask`` is ``True`` on them. Bucketed batches also carry ``index`` (B,): each row's position in the
split it came from, so that predictions can be matched to their examples (e.g. to every reference
pronunciation of a word).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TypeVar

import torch
from torch import Tensor

B = TypeVar("B", bound="TensorBatch")


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    """``mask[b, t] = t < lengths[b]``: (B,) -> (B, max_len) bool."""
    return torch.arange(max_len, device=lengths.device)[None, :] < lengths[:, None]


class TensorBatch:
    """Moves every tensor field to a device (non-tensor fields are kept as they are)."""

    def to(self: B, device: torch.device | str) -> B:
        return replace(
            self,  # type: ignore[arg-type]
            **{
                f.name: getattr(self, f.name).to(device)
                for f in fields(self)  # type: ignore[arg-type]
                if isinstance(getattr(self, f.name), Tensor)
            },
        )

    def __len__(self) -> int:
        first = fields(self)[0].name  # type: ignore[arg-type]
        return int(getattr(self, first).shape[0])


@dataclass
class ClassificationBatch(TensorBatch):
    tokens: Tensor  # (B, T) long, padded with 0
    lengths: Tensor  # (B,) long
    labels: Tensor  # (B,) long
    index: Tensor  # (B,) long

    @property
    def mask(self) -> Tensor:  # (B, T) bool
        return length_mask(self.lengths, self.tokens.shape[1])


@dataclass
class SeriesBatch(TensorBatch):
    series: Tensor  # (B, T, C) float, padded with 0.0
    lengths: Tensor  # (B,) long
    labels: Tensor  # (B,) long
    index: Tensor  # (B,) long

    @property
    def mask(self) -> Tensor:  # (B, T) bool
        return length_mask(self.lengths, self.series.shape[1])


@dataclass
class TaggingBatch(TensorBatch):
    tokens: Tensor  # (B, T) long
    lengths: Tensor  # (B,) long
    tags: Tensor  # (B, T) long, padded with the tag vocabulary's <pad> id 0
    index: Tensor  # (B,) long

    @property
    def mask(self) -> Tensor:  # (B, T) bool
        return length_mask(self.lengths, self.tokens.shape[1])


@dataclass
class StreamBatch(TensorBatch):
    """A chunk of k steps of B parallel streams: row b of batch i continues row b of batch i-1, and
    ``targets[b, t]`` is the symbol after ``tokens[b, t]``."""

    tokens: Tensor  # (B, k) long
    targets: Tensor  # (B, k) long
    lengths: Tensor  # (B,) long, all k (the last chunk of an epoch may be shorter)

    @property
    def mask(self) -> Tensor:  # (B, k) bool
        return length_mask(self.lengths, self.tokens.shape[1])


@dataclass
class Seq2SeqBatch(TensorBatch):
    """``tgt_in = <bos> y_1 .. y_n`` (teacher forcing input), ``tgt_out = y_1 .. y_n <eos>``;
    ``tgt_lengths = n + 1``."""

    src: Tensor  # (B, S) long
    src_lengths: Tensor  # (B,) long
    tgt_in: Tensor  # (B, T') long
    tgt_out: Tensor  # (B, T') long
    tgt_lengths: Tensor  # (B,) long
    index: Tensor  # (B,) long

    @property
    def src_mask(self) -> Tensor:  # (B, S) bool
        return length_mask(self.src_lengths, self.src.shape[1])

    @property
    def tgt_mask(self) -> Tensor:  # (B, T') bool
        return length_mask(self.tgt_lengths, self.tgt_in.shape[1])


@dataclass
class GenerationBatch(TensorBatch):
    """One-to-many: ``condition`` (B,) ids of the condition symbols, and the sequence to generate."""

    condition: Tensor  # (B,) long
    tgt_in: Tensor  # (B, T) long, <bos>-prefixed
    tgt_out: Tensor  # (B, T) long, <eos>-suffixed
    tgt_lengths: Tensor  # (B,) long
    index: Tensor  # (B,) long

    @property
    def tgt_mask(self) -> Tensor:  # (B, T) bool
        return length_mask(self.tgt_lengths, self.tgt_in.shape[1])


@dataclass
class DocumentBatch(TensorBatch):
    """Documents as sentences of words: row b has ``sentence_counts[b]`` sentences, sentence s of it
    ``word_counts[b, s]`` words (0 for padding sentences)."""

    docs: Tensor  # (B, S, W) long
    sentence_counts: Tensor  # (B,) long
    word_counts: Tensor  # (B, S) long
    labels: Tensor  # (B,) long
    index: Tensor  # (B,) long

    @property
    def word_mask(self) -> Tensor:  # (B, S, W) bool
        b, s, w = self.docs.shape
        return length_mask(self.word_counts.reshape(b * s), w).reshape(b, s, w)

    @property
    def sentence_mask(self) -> Tensor:  # (B, S) bool
        return length_mask(self.sentence_counts, self.docs.shape[1])
