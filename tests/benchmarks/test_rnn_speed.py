"""Smoke tests of the speed benchmark: every row runs on tiny shapes and reports sane numbers (no timing asserted)."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch

from rnnkit.cells import LSTMCell
from rnnkit.layers import Recurrent

_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "rnn_speed.py"


def _load():
    spec = importlib.util.spec_from_file_location("rnn_speed", _PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


rnn_speed = _load()


@pytest.fixture(scope="module")
def quick_report():
    return rnn_speed.run(["--quick", "--repeats", "1", "--bf16"])


def _expected_rows(shape):
    """The row names a full --quick --bf16 run must report for one shape."""
    variants = [v for v in rnn_speed.VARIANTS
                if shape.layers >= v.min_layers and not (v.training_only and not shape.training)]
    names = {f"torch.nn.{v.reference}" for v in variants} | {v.key for v in variants}
    names |= {f"{k} {dtype} infer" for k in rnn_speed.BF16_KEYS for dtype in ("fp32", "bf16")}
    return names


def test_quick_run_reports_every_row_of_every_shape(quick_report):
    by_shape = {}
    for row in quick_report.rows:
        by_shape.setdefault(row.shape.split(" (")[0], set()).add(row.key)
    for shape in rnn_speed.QUICK_SHAPES:
        sizes = shape.label.split(" (")[0]
        assert by_shape[sizes] == _expected_rows(shape), sizes
    # residual needs two layers, recurrent dropout is off at inference: both appear in the two-layer shape only
    residual_shapes = {r.shape for r in quick_report.rows if r.key == "residual"}
    assert residual_shapes == {rnn_speed.QUICK_SHAPES[1].label}


def test_quick_run_numbers_are_positive_and_consistent(quick_report):
    for row in quick_report.rows:
        training = row.shape.endswith("(train)")
        assert row.fwd > 0 and math.isfinite(row.fwd), row
        if training:
            assert row.fwd_bwd >= row.fwd, row  # the forward pass is part of the training step
        else:
            assert row.fwd_bwd is None and row.ratio_fwd_bwd is None, row
        for value in (row.ratio_fwd, row.ratio_fwd_bwd, row.ratio_loop):
            assert value is None or (value > 0 and math.isfinite(value)), row
        assert row.tokens_per_s > 0 and row.gflops > 0, row
        assert row.peak_share is None or 0 < row.peak_share < 1, row
        if row.key.startswith("torch.nn.") or row.key.endswith("fp32 infer"):
            assert row.ratio_fwd is None and row.passed is None, row  # references are not judged
        else:
            assert row.ratio_fwd is not None and row.passed in (True, False) and row.target, row
            assert set(row.missed) <= {"fwd", "f+b", "ref", "loop"}, row
    assert all(g > 0 for g in quick_report.peaks.values())
    assert set(quick_report.cpu_shares) == {s.label for s in rnn_speed.QUICK_SHAPES}
    assert all(share > 0 for share in quick_report.cpu_shares.values())
    assert set(quick_report.peaks) <= {"oneDNN", "torch.mm"} and "torch.mm" in quick_report.peaks


def test_report_text_has_environment_every_row_and_the_verdict_count(quick_report):
    text = rnn_speed.format_report(quick_report)
    assert f"torch {torch.__version__}" in text and "torch threads: 1" in text and "CPU: " in text
    for row in quick_report.rows:
        assert row.label in text
    judged = [r for r in quick_report.rows if r.passed is not None]
    misses = sum(not r.passed for r in judged)
    assert f"targets: {len(judged) - misses} PASS, {misses} MISS" in text
    for row in judged:
        assert row.passed == (not row.missed), row
        if not row.passed:
            assert f"MISS({','.join(row.missed)})" in text
            assert f"  MISS {row.label} [{row.shape}]: {', '.join(row.missed)}" in text


def test_only_and_shapes_select_rows():
    report = rnn_speed.run(["--quick", "--repeats", "1", "--only", "peephole", "--shapes", "infer", "--clock", "cpu"])
    assert [r.key for r in report.rows] == ["torch.nn.LSTM", "peephole"]
    assert report.rows[1].ratio_loop is not None


def test_bad_options_are_rejected():
    with pytest.raises(SystemExit):
        rnn_speed.parse_args(["--only", "no_such_row"])
    with pytest.raises(SystemExit):
        rnn_speed.parse_args(["--repeats", "0"])
    with pytest.raises(SystemExit):
        rnn_speed.parse_args(["--clock", "cpu", "--threads", "2"])


def test_matmul_flops_by_hand():
    shape = rnn_speed.Shape("s", batch=2, steps=3, input_size=5, hidden_size=7, layers=1, training=True)
    # 2 B T * (4H (I + H)) = 12 * 28 * 12
    assert rnn_speed.matmul_flops(shape, gates=4) == 12 * 28 * 12
    two = rnn_speed.Shape("s", 2, 3, 5, 7, 2, True)
    assert rnn_speed.matmul_flops(two, gates=4) == 12 * 28 * 12 + 12 * 28 * 14  # layer 2 takes H inputs
    # one H x H deep-transition layer per step adds 2 B T H^2
    assert rnn_speed.matmul_flops(shape, gates=4, transitions=1) == 12 * 28 * 12 + 12 * 49


@pytest.mark.parametrize("options", [{}, {"zoneout": 0.3}, {"residual": True}])
def test_step_loop_computes_what_the_layer_computes(options):
    layer = Recurrent(LSTMCell(6, 6, dtype=torch.float64), num_layers=2, **options).eval()
    x = torch.randn(5, 3, 6, dtype=torch.float64)
    loop = rnn_speed.StepLoop(layer).eval()
    torch.testing.assert_close(loop(x)[0], layer(x)[0])


def test_case_times_a_training_step_and_clears_gradients():
    layer = Recurrent(LSTMCell(4, 5))
    x = torch.randn(3, 2, 4, requires_grad=True)
    fwd, fwd_bwd = rnn_speed.Case(layer, x, training=True).run()
    assert 0 < fwd <= fwd_bwd
    assert x.grad is None and all(p.grad is None for p in layer.parameters())
    fwd, none = rnn_speed.Case(layer, x.detach(), training=False).run()
    assert fwd > 0 and none is None and not layer.training
