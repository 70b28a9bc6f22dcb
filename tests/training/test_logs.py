import csv
import sys

import pytest

from rnnkit.training import CsvLog, TrainConfig, Trainer
from rnnkit.training.logs import TensorBoardLog


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_header_widens_when_a_column_first_appears(tmp_path):
    log = CsvLog(tmp_path / "log.csv")
    log.write({"step": 1, "loss": 2.0, "elapsed": 0.1})
    log.write({"step": 2, "loss": 1.5, "val_loss": 1.7, "elapsed": 0.2})
    log.close()
    rows = _rows(tmp_path / "log.csv")
    assert list(rows[0]) == ["step", "loss", "val_loss", "elapsed"]
    assert rows[0]["val_loss"] == "" and rows[1]["val_loss"] == "1.7"


def test_resume_drops_rows_after_the_checkpoint(tmp_path):
    log = CsvLog(tmp_path / "log.csv")
    for step in range(1, 6):
        log.write({"step": step, "loss": 1.0 / step})
    log.close()
    log = CsvLog(tmp_path / "log.csv", resume_step=3)
    log.write({"step": 4, "loss": 9.0})
    log.close()
    assert [(r["step"], r["loss"]) for r in _rows(tmp_path / "log.csv")] == [
        ("1", "1.0"), ("2", "0.5"), ("3", str(1 / 3)), ("4", "9.0")
    ]


def test_trainer_writes_the_csv_log(toys, tmp_path):
    cfg = TrainConfig(epochs=2, log_every=2)
    Trainer(toys.make(), toys.SeriesTask(), toys.SeriesSource(n=3), cfg, val=toys.SeriesSource(n=1),
            run_dir=tmp_path).fit()
    rows = _rows(tmp_path / "log.csv")
    assert list(rows[0]) == ["step", "epoch", "batch", "loss", "lr", "grad_norm", "teacher_forcing", "mae",
                             "val_loss", "val_mae", "elapsed"]
    # Every second step, plus each epoch's end, where the evaluation fills the val_ columns.
    assert [(r["step"], r["epoch"], r["batch"], r["val_loss"] != "") for r in rows] == [
        ("2", "0", "2", False), ("3", "0", "3", True), ("4", "1", "1", False), ("6", "1", "3", True)
    ]
    assert all(float(r["grad_norm"]) > 0 and float(r["loss"]) > 0 for r in rows)


def test_tensorboard_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    with pytest.raises(ImportError, match=r"needs the tensorboard package.*pip install 'rnnkit\[tensorboard\]'"):
        TensorBoardLog(tmp_path)


def test_tensorboard_events_hold_the_logged_scalars(toys, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = TrainConfig(epochs=1, tensorboard=True, log_every=1)
    trainer = Trainer(toys.make(), toys.SeriesTask(), toys.SeriesSource(n=2), cfg, run_dir=tmp_path)
    trainer.fit()
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    scalars = events.Tags()["scalars"]
    assert any("loss" in tag for tag in scalars), scalars
    loss_tag = next(tag for tag in scalars if "loss" in tag and "val" not in tag)
    assert [e.step for e in events.Scalars(loss_tag)] == [1, 2]


def test_progress_bar_only_on_a_terminal(monkeypatch):
    from rnnkit.training.logs import progress_bar

    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    for enabled, shown in ((None, False), (True, True), (False, False)):
        bar = progress_bar(10, 0, enabled)
        assert bar.disable is not shown
        bar.close()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    bar = progress_bar(10, 4, None)
    assert not bar.disable and bar.n == 4
    bar.close()
