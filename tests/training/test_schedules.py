import math

import pytest

from rnnkit.training import TrainConfig, lr_factor, teacher_forcing_ratio


def test_warmup_then_cosine():
    cfg = TrainConfig(lr_schedule="cosine", warmup_steps=4, min_lr_ratio=0.1)
    assert [lr_factor(cfg, t, 14) for t in range(4)] == [0.25, 0.5, 0.75, 1.0]
    # p = (t - 4) / 10: p = 0.5 gives halfway between 1 and the floor.
    assert lr_factor(cfg, 9, 14) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_factor(cfg, 14, 14) == pytest.approx(0.1)


def test_linear_and_step_decay():
    cfg = TrainConfig(lr_schedule="linear")
    assert [lr_factor(cfg, t, 4) for t in range(5)] == [1.0, 0.75, 0.5, 0.25, 0.0]
    cfg = TrainConfig(lr_schedule="step", step_size=3, gamma=0.5)
    assert [lr_factor(cfg, t, 100) for t in range(7)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25]


def test_constant_and_plateau_do_not_decay_with_steps():
    for schedule in ("constant", "plateau"):
        assert lr_factor(TrainConfig(lr_schedule=schedule), 500, 1000) == 1.0


def test_teacher_forcing_schedules_of_scheduled_sampling():
    assert teacher_forcing_ratio(TrainConfig(tf_start=0.7), 1000) == 0.7
    linear = TrainConfig(teacher_forcing="linear", tf_start=1.0, tf_end=0.2, tf_decay_steps=8)
    assert [teacher_forcing_ratio(linear, t) for t in (0, 4, 8, 100)] == pytest.approx([1.0, 0.6, 0.2, 0.2])
    inv = TrainConfig(teacher_forcing="inverse_sigmoid", tf_k=10.0)
    assert teacher_forcing_ratio(inv, 0) == pytest.approx(10 / 11)
    assert teacher_forcing_ratio(inv, 30) == pytest.approx(10 / (10 + math.exp(3)))
    assert teacher_forcing_ratio(inv, 10**7) == 0.0
