"""Schedules as pure functions of the optimizer step ``t`` (0 for the first update).

Being functions of ``t`` alone, they need no state in a checkpoint: a resumed run recomputes the same
values. (The plateau reduction depends on evaluations instead and lives in :mod:`.plateau`.)

Learning rate, with ``W`` warmup steps, ``N`` total steps, ``p = (t - W) / (N - W)`` the decay progress
and ``r`` the floor ``min_lr_ratio``:

.. math::

    \\mathrm{lr}_t = \\mathrm{lr} \\cdot
        \\begin{cases} (t + 1) / W & t < W \\\\ d(p) & t \\ge W \\end{cases}
    \\qquad
    d(p) = \\begin{cases}
        1 & \\text{constant, plateau} \\\\
        r + (1 - r) \\tfrac{1}{2} (1 + \\cos \\pi p) & \\text{cosine} \\\\
        1 - (1 - r) p & \\text{linear} \\\\
        \\gamma^{\\lfloor (t - W) / s \\rfloor} & \\text{step}
    \\end{cases}

Teacher-forcing ratio ``eps_t`` (scheduled sampling, Bengio et al. 2015, sec. 2.4), the probability of
feeding the true previous token:

.. math::

    \\epsilon_t = \\begin{cases}
        \\epsilon_0 & \\text{constant} \\\\
        \\max(\\epsilon_{end}, \\epsilon_0 - (\\epsilon_0 - \\epsilon_{end}) t / D) & \\text{linear} \\\\
        \\epsilon_0 \\cdot k / (k + \\exp(t / k)) & \\text{inverse sigmoid}
    \\end{cases}
"""

from __future__ import annotations

import math

from .config import TrainConfig


def lr_factor(config: TrainConfig, t: int, total_steps: int) -> float:
    """The multiplier of ``config.lr`` at step ``t`` of ``total_steps`` (warmup times decay)."""
    W = config.warmup_steps
    if t < W:
        return (t + 1) / W
    r = config.min_lr_ratio
    p = min(1.0, (t - W) / max(1, total_steps - W))
    if config.lr_schedule == "cosine":
        return r + (1 - r) * 0.5 * (1 + math.cos(math.pi * p))
    if config.lr_schedule == "linear":
        return 1 - (1 - r) * p
    if config.lr_schedule == "step":
        return config.gamma ** ((t - W) // config.step_size)
    return 1.0


def teacher_forcing_ratio(config: TrainConfig, t: int) -> float:
    """The probability of teacher forcing at step ``t``."""
    eps0 = config.tf_start
    if config.teacher_forcing == "linear":
        return max(config.tf_end, eps0 - (eps0 - config.tf_end) * t / config.tf_decay_steps)
    if config.teacher_forcing == "inverse_sigmoid":
        k = config.tf_k
        # exp(t / k) overflows a float past t / k ~ 709, where the ratio is 0 to double precision anyway.
        return 0.0 if t / k > 700 else eps0 * k / (k + math.exp(t / k))
    return eps0
