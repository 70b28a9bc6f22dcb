import json

import pytest

from rnnkit.training import TrainConfig


def test_round_trips_through_json():
    cfg = TrainConfig(optimizer="sgd", betas=(0.8, 0.9), clip_norm=None, patience=3)
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.betas == (0.8, 0.9)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("optimizer", "rmsprop", r"optimizer must be one of \('adam', 'adamw', 'sgd'\), got 'rmsprop'"),
        ("lr", 0.0, "lr must be a positive number, got 0.0"),
        ("clip_norm", -1.0, "clip_norm must be > 0 or None"),
        ("mode", "lowest", "mode must be one of"),
        ("tf_k", 0.5, "tf_k must be >= 1"),
        ("epochs", 0, "epochs must be at least 1"),
        ("betas", (0.9, 1.0), "betas must be two numbers in"),
    ],
)
def test_bad_values_name_the_field(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value})


def test_unknown_keys_are_named():
    with pytest.raises(ValueError, match=r"unknown TrainConfig field\(s\) \['learning_rate'\]"):
        TrainConfig.from_dict({"learning_rate": 0.1})


def test_clipping_by_norm_is_on_by_default():
    assert TrainConfig().clip_norm == 5.0
