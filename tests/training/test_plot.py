import importlib.util

import pytest

from rnnkit.training import TrainConfig, Trainer, plot_log


def test_plot_of_a_training_log(toys, tmp_path):
    Trainer(toys.make(), toys.SeriesTask(), toys.SeriesSource(n=3), TrainConfig(epochs=2),
            val=toys.SeriesSource(n=1), run_dir=tmp_path).fit()
    if importlib.util.find_spec("matplotlib") is None:
        with pytest.raises(ImportError, match="plot_log needs matplotlib"):
            plot_log(tmp_path / "log.csv", tmp_path / "log.png")
        return
    png = plot_log(tmp_path / "log.csv", tmp_path / "plots" / "log.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_missing_log_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no training log at"):
        plot_log(tmp_path / "absent.csv", tmp_path / "x.png")
