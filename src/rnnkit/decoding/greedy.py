"""Greedy decoding: at each step take the most probable token, ``y_t = argmax_v log p(v | y_<t, x)``,
and feed it back as the next input."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from rnnkit.decoding.contract import Decoded
from rnnkit.decoding.step_loop import decode_left_to_right


def greedy(
    model: Any, state: Any, bos_id: int | Tensor, eos_id: int, max_len: int, *, batch_size: int | None = None
) -> Decoded:
    """Decode ``N`` rows greedily from ``state`` (see :mod:`rnnkit.decoding.contract`).

    Returns :class:`Decoded`: ``tokens`` (per row, without BOS, up to and without EOS) and ``scores (N,)``
    (sum of the chosen tokens' log-probabilities).
    """
    return decode_left_to_right(model, state, bos_id, eos_id, max_len, lambda lp: lp.argmax(-1), batch_size)
