"""``PackedSequence`` in and out of a layer that works on a padded, time-major batch with lengths.

A packed batch holds each sequence up to its own end; unpacked, the padding is held by the layer's keep
mask, so the outputs and final states are those ``torch.nn``'s packed kernels give.
"""

from __future__ import annotations

from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


def unpack(packed: PackedSequence) -> tuple[Tensor, Tensor]:
    """``(padded (T, B, ·), lengths (B,))``, both in the batch's original order."""
    return pad_packed_sequence(packed)


def repack(padded: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
    """``padded (T, B, ·)`` (original batch order) packed with the same order and batch sizes as ``like``."""
    if like.sorted_indices is None:
        return pack_padded_sequence(padded, lengths, enforce_sorted=True)
    order = like.sorted_indices
    data = pack_padded_sequence(padded.index_select(1, order.to(padded.device)), lengths[order.cpu()]).data
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)
