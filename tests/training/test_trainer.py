import csv

import pytest
import torch

from rnnkit.training import StepOutput, TrainConfig, Trainer, load_checkpoint


class Crash(Exception):
    """Stands in for a kill: raised by the task at a chosen step."""


def _crash_at(task, step: int):
    original = task.step
    calls = {"n": 0}

    def step_fn(model, batch, carry, teacher_forcing: float = 1.0):
        calls["n"] += torch.is_grad_enabled()  # count training steps, not evaluation batches
        if calls["n"] == step:
            raise Crash
        return original(model, batch, carry, teacher_forcing)

    task.step = step_fn
    return task


def _optimizer_tensors(trainer):
    state = trainer.optimizer.state_dict()["state"]
    return {(i, k): v for i, s in state.items() for k, v in s.items() if isinstance(v, torch.Tensor)}


@pytest.mark.parametrize(
    "overrides",
    [
        dict(optimizer="adam", lr_schedule="cosine", warmup_steps=3, checkpoint_every=4),
        dict(optimizer="sgd", lr=0.05, lr_schedule="step", step_size=5, checkpoint_every=5, dtype=torch.float32),
    ],
    ids=["adam-cosine-float64", "sgd-step-float32"],
)
def test_resume_mid_epoch_equals_uninterrupted_run(toys, tmp_path, overrides):
    dtype = overrides.pop("dtype", torch.float64)
    cfg = TrainConfig(epochs=3, lr=overrides.pop("lr", 0.01), eval_every=5, **overrides)
    val = toys.SeriesSource(n=2, seed=1, dtype=dtype)

    full = Trainer(toys.make(dtype=dtype), toys.SeriesTask(), toys.SeriesSource(dtype=dtype), cfg, val=val,
                   run_dir=tmp_path / "full")
    full.fit()

    crashed_source = toys.SeriesSource(dtype=dtype)
    crashed = Trainer(toys.make(dtype=dtype), _crash_at(toys.SeriesTask(), 11), crashed_source, cfg, val=val,
                      run_dir=tmp_path / "resumed")
    with pytest.raises(Crash):
        crashed.fit()
    saved = load_checkpoint(tmp_path / "resumed")
    # Killed during step 11: the last checkpoint is mid-epoch (after step 8 or 10, in epoch 1 of 6-batch
    # epochs) and holds a truncated-BPTT carry.
    assert 0 < saved.trainer["batch"] < 6 and saved.trainer["epoch"] == 1
    assert saved.rank_state(0)["carry"] is not None

    resumed_source = toys.SeriesSource(dtype=dtype)
    resumed = Trainer(toys.make(seed=99, dtype=dtype), toys.SeriesTask(), resumed_source, cfg, val=val,
                      run_dir=tmp_path / "resumed")
    result = resumed.fit(resume=True)

    assert result.step == 18
    assert resumed_source.starts[0] == (1, saved.trainer["batch"])  # asked for the rest of the epoch only
    for (name, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    full_opt, resumed_opt = _optimizer_tensors(full), _optimizer_tensors(resumed)
    assert full_opt.keys() == resumed_opt.keys()
    for key in full_opt:
        assert torch.equal(full_opt[key], resumed_opt[key]), key
    # The log of the resumed run reads as one run: every step once, the same losses.
    with open(tmp_path / "full" / "log.csv") as f:
        full_rows = list(csv.DictReader(f))
    with open(tmp_path / "resumed" / "log.csv") as f:
        resumed_rows = list(csv.DictReader(f))
    assert [r["step"] for r in resumed_rows] == [str(s) for s in range(1, 19)]
    assert [r["loss"] for r in resumed_rows] == [r["loss"] for r in full_rows]


def test_resume_refuses_a_changed_config(toys, tmp_path):
    cfg = TrainConfig(epochs=1)
    Trainer(toys.make(), toys.SeriesTask(), toys.SeriesSource(), cfg, run_dir=tmp_path).fit()
    other = TrainConfig(epochs=2, lr=0.5)
    with pytest.raises(ValueError, match=r"lr: 0.001 -> 0.5"):
        Trainer(toys.make(), toys.SeriesTask(), toys.SeriesSource(), other, run_dir=tmp_path).fit(resume=True)
    # epochs may change: the run continues for one more epoch.
    result = Trainer(toys.make(), toys.SeriesTask(), toys.SeriesSource(), TrainConfig(epochs=2),
                     run_dir=tmp_path).fit(resume=True)
    assert result.step == 12


def test_fresh_run_into_a_used_folder_is_refused(toys, tmp_path):
    Trainer(toys.make(), toys.SeriesTask(), toys.SeriesSource(), TrainConfig(epochs=1), run_dir=tmp_path).fit()
    with pytest.raises(FileExistsError, match="already holds checkpoints"):
        Trainer(toys.make(), toys.SeriesTask(), toys.SeriesSource(), TrainConfig(epochs=1), run_dir=tmp_path).fit()


def test_tbptt_carry_is_detached_and_reset_each_epoch(toys):
    task = toys.SeriesTask()
    Trainer(toys.make(), task, toys.SeriesSource(n=4), TrainConfig(epochs=2)).fit()
    carries = task.seen_carries
    assert len(carries) == 8
    assert carries[0] is None and carries[4] is None  # each epoch starts without a carry
    for carry in carries[1:4] + carries[5:]:
        assert isinstance(carry, torch.Tensor)
        assert carry.grad_fn is None and not carry.requires_grad  # no graph reaches back into the last batch


def test_evaluation_does_not_change_the_trajectory(toys):
    """Evaluating restores the random generators, so dropout masks in training are the same with or
    without evaluation."""
    models = []
    for eval_every in (None, 2):
        model = toys.make()
        cfg = TrainConfig(epochs=2, eval_every=eval_every, eval_each_epoch=eval_every is not None)
        Trainer(model, toys.SeriesTask(), toys.SeriesSource(), cfg, val=toys.SeriesSource(n=2, seed=1)).fit()
        models.append(model)
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        assert torch.equal(a, b)


class _ScriptedValTask:
    """Training loss from the model; validation loss read from a script, one value per evaluation."""

    def __init__(self, toys, val_losses):
        self.inner = toys.SeriesTask(tbptt=False)
        self.val_losses = list(val_losses)

    def step(self, model, batch, carry, teacher_forcing: float = 1.0):
        if torch.is_grad_enabled():
            return self.inner.step(model, batch, carry)
        value = self.val_losses.pop(0)
        return StepOutput(loss=torch.tensor(value), logs={"acc": 1 - value})


def test_early_stopping_stops_after_patience_and_marks_best(toys, tmp_path):
    # Evaluated every step on a 1-batch validation source: best at the second evaluation, then 3 worse.
    task = _ScriptedValTask(toys, [0.9, 0.5, 0.6, 0.7, 0.8] + [0.1] * 20)
    cfg = TrainConfig(epochs=5, eval_every=1, eval_each_epoch=False, patience=3, keep_last=1)
    trainer = Trainer(toys.make(), task, toys.SeriesSource(), cfg, val=toys.SeriesSource(n=1), run_dir=tmp_path)
    result = trainer.fit()
    assert result.stopped_early and result.step == 5 and result.best == 0.5
    assert load_checkpoint(tmp_path, "best").trainer["step"] == 2  # kept although keep_last=1
    assert load_checkpoint(tmp_path).trainer["step"] == 5
    # A stopped run stays stopped when resumed.
    again = Trainer(toys.make(), task, toys.SeriesSource(), cfg, val=toys.SeriesSource(n=1), run_dir=tmp_path)
    assert again.fit(resume=True).step == 5


def test_monitoring_a_larger_is_better_metric(toys):
    task = _ScriptedValTask(toys, [0.9, 0.5, 0.6, 0.7] + [0.1] * 20)  # val_acc: 0.1, 0.5, 0.4, 0.3
    cfg = TrainConfig(epochs=5, eval_every=1, eval_each_epoch=False, patience=2, monitor="val_acc", mode="max")
    result = Trainer(toys.make(), task, toys.SeriesSource(), cfg, val=toys.SeriesSource(n=1)).fit()
    assert result.stopped_early and result.step == 4 and result.best == pytest.approx(0.5)


def test_plateau_schedule_cuts_the_learning_rate(toys):
    task = _ScriptedValTask(toys, [0.5] * 10)  # never improves after the first evaluation
    cfg = TrainConfig(epochs=1, eval_every=1, eval_each_epoch=False, lr_schedule="plateau", plateau_patience=1,
                      plateau_factor=0.5, lr=0.1)
    trainer = Trainer(toys.make(), task, toys.SeriesSource(), cfg, val=toys.SeriesSource(n=1))
    trainer.fit()
    # Evaluations after steps 1..6; the 3rd and 5th are the second bad ones in a row: lr halves after each.
    assert [row["lr"] for row in trainer.history] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.025]


def test_clipping_by_norm_bounds_the_update(toys):
    model = toys.make(dropout=0.0)
    before = [p.detach().clone() for p in model.parameters()]
    cfg = TrainConfig(epochs=1, max_steps=1, optimizer="sgd", momentum=0.0, lr=1.0, clip_norm=1e-3)
    trainer = Trainer(model, toys.SeriesTask(), toys.SeriesSource(), cfg)
    trainer.fit()
    update = torch.sqrt(sum(((p - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert update.item() == pytest.approx(1e-3, rel=1e-6)
    assert trainer.history[0]["grad_norm"] > 1e-2  # the logged norm is the raw one


def test_teacher_forcing_ratio_is_passed_each_step(toys):
    task = toys.SeriesTask()
    cfg = TrainConfig(epochs=1, teacher_forcing="linear", tf_start=1.0, tf_end=0.0, tf_decay_steps=4)
    Trainer(toys.make(), task, toys.SeriesSource(), cfg).fit()
    assert task.seen_ratios == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]


def test_a_schedule_the_task_cannot_receive_is_refused(toys):
    class NoRatio:
        def step(self, model, batch, carry):
            raise AssertionError("never called")

    with pytest.raises(ValueError, match="takes no 'teacher_forcing'"):
        Trainer(toys.make(), NoRatio(), toys.SeriesSource(), TrainConfig(teacher_forcing="inverse_sigmoid"))


def test_evaluation_needs_a_validation_source(toys):
    with pytest.raises(ValueError, match="no validation source"):
        Trainer(toys.make(), toys.SeriesTask(), toys.SeriesSource(), TrainConfig(patience=2))


def test_max_steps_ends_mid_epoch(toys):
    trainer = Trainer(toys.make(), toys.SeriesTask(), toys.SeriesSource(), TrainConfig(epochs=5, max_steps=8))
    result = trainer.fit()
    assert result.step == 8 and [r["step"] for r in trainer.history] == list(range(1, 9))


def test_a_diverging_loss_is_reported(toys):
    class NaNTask:
        def step(self, model, batch, carry):
            pred, _ = model(batch.x)
            return StepOutput(loss=pred.sum() * float("nan"))

    with pytest.raises(FloatingPointError, match="gradient norm is nan at step 0"):
        Trainer(toys.make(), NaNTask(), toys.SeriesSource(), TrainConfig(epochs=1)).fit()
