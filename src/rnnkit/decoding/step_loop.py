"""The left-to-right loop shared by greedy decoding and sampling: feed the previous output back in.

At each step ``t``: ``log_probs (N, V), state = model.step(y_{t-1} (N,), state)``, then a ``choose``
function picks ``y_t (N,)`` from ``log_probs``. Rows stop at EOS; the loop stops when every row has, or
after ``max_len`` steps (EOS counted).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from rnnkit.decoding.contract import Decoded, check_step_output, start_tokens

Chooser = Callable[[Tensor], Tensor]  # log_probs (N, V) -> token ids (N,)


@torch.no_grad()
def decode_left_to_right(
    model: Any, state: Any, bos_id: int | Tensor, eos_id: int, max_len: int, choose: Chooser,
    batch_size: int | None = None,
) -> Decoded:
    if max_len < 1:
        raise ValueError(f"max_len must be at least 1, got {max_len}")
    tokens = start_tokens(model, state, bos_id, batch_size)  # (N,)
    n = tokens.size(0)
    finished = torch.zeros(n, dtype=torch.bool, device=tokens.device)  # (N,)
    scores = torch.zeros(n, device=tokens.device)  # (N,)
    steps: list[Tensor] = []
    for _ in range(max_len):
        log_probs, state = model.step(tokens, state)  # (N, V)
        check_step_output(log_probs, n)
        chosen = choose(log_probs)  # (N,)
        step_scores = log_probs.gather(1, chosen.unsqueeze(1)).squeeze(1)  # (N,)
        scores += step_scores.float().masked_fill(finished, 0.0)
        # Rows already done keep emitting EOS so the output stays rectangular; they are cut below.
        chosen = chosen.masked_fill(finished, eos_id)
        steps.append(chosen)
        finished |= chosen == eos_id
        if bool(finished.all()):
            break
        tokens = chosen
    outputs = torch.stack(steps, 1).tolist()  # (N, t)
    return Decoded([_cut_at_eos(row, eos_id) for row in outputs], scores)


def _cut_at_eos(row: list[int], eos_id: int) -> list[int]:
    return row[: row.index(eos_id)] if eos_id in row else row
