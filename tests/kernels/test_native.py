"""The native (C++) inference loops: the same numbers as the Python loops for every option, taken where they
should be, and a clean fallback when they cannot be built."""

from __future__ import annotations

import warnings

import pytest
import torch

from tests.kernels.conftest import FORMS, form_id, masks, random, random_transition
from rnnkit.kernels import gru as gru_module
from rnnkit.kernels import lstm as lstm_module
from rnnkit.kernels import minimal_gru as minimal_gru_module
from rnnkit.kernels import native
from rnnkit.kernels import rnn as rnn_module
from rnnkit.kernels.gru import gru_scan
from rnnkit.kernels.lstm import lstm_scan
from rnnkit.kernels.minimal_gru import minimal_gru_scan
from rnnkit.kernels.rnn import rnn_scan

pytestmark = pytest.mark.native
F32 = torch.float32
# float32 through different code: the approximations of scan.h (about 1e-7) and other summation orders
TOL = {"rtol": 1e-5, "atol": 2e-6}


@pytest.fixture(autouse=True)
def _built():
    assert native.ops() is not None, "the native loops did not build on this machine"


def both_paths(scan, monkeypatch, *args, **kwargs):
    """(native, python) results of the same inference call, and checks each took its path."""
    modules = (lstm_module, gru_module, rnn_module, minimal_gru_module)
    calls = []
    for module in modules:
        original = module._forward_native

        def spy(*a, _original=original, **k):
            calls.append("native")
            return _original(*a, **k)

        monkeypatch.setattr(module, "_forward_native", spy)
    with torch.no_grad():
        got = scan(*args, **kwargs)
        assert calls == ["native"]
        monkeypatch.setattr(native, "runs", lambda xp: False)
        want = scan(*args, **kwargs)
        assert calls == ["native"]
    return got, want


def assert_close(got, want):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        torch.testing.assert_close(a, b, **TOL)


CASES = [  # (keep, recurrent mask, batch)
    (None, False, 1),
    (None, False, 5),
    ("full", True, 3),
    ("lengths", False, 4),
]


def case_id(case):
    keep, mask, batch = case
    return f"B{batch}" + (f"-{keep}" if keep else "") + ("-mask" if mask else "")


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("peephole", [False, True], ids=["", "peephole"])
@pytest.mark.parametrize("norm", [None, "gates", "both"], ids=["", "ln_gates", "ln_both"])
def test_lstm_native_equals_python_loop(case, peephole, norm, monkeypatch):
    keep, mask, B = case
    T, H = 7, 12
    gen = torch.Generator().manual_seed(1)
    k, m = masks(gen, F32, keep, mask, T, B, H)
    kwargs = {"keep_h": k, "keep_c": k, "recurrent_mask": m}
    if peephole:
        kwargs |= {f"weight_c{g}": random(gen, F32, H, scale=0.5).detach() for g in "ifo"}
    if norm:
        kwargs |= {"ln_gates_weight": 1 + random(gen, F32, 4 * H, scale=0.1).detach(),
                   "ln_gates_bias": random(gen, F32, 4 * H, scale=0.1).detach()}  # fmt: skip
    if norm == "both":
        kwargs |= {"ln_cell_weight": 1 + random(gen, F32, H, scale=0.1).detach(),
                   "ln_cell_bias": random(gen, F32, H, scale=0.1).detach()}  # fmt: skip
    args = (random(gen, F32, T, B, 4 * H), random(gen, F32, B, H), random(gen, F32, B, H),
            random(gen, F32, 4 * H, H, scale=0.3))  # fmt: skip
    assert_close(*both_paths(lstm_scan, monkeypatch, *args, **kwargs))


@pytest.mark.parametrize("form", FORMS, ids=form_id)
@pytest.mark.parametrize("kernel", ["lstm", "rnn-tanh", "rnn-relu"])
def test_transition_native_equals_python_loop(kernel, form, monkeypatch):
    T, B, H = 6, 3, 10
    gen = torch.Generator().manual_seed(2)
    k, m = masks(gen, F32, "full", True, T, B, H)
    transition = random_transition(gen, F32, form, H)
    transition = transition.with_tensors([t.detach() if t is not None else None for t in transition.tensors()])
    if kernel == "lstm":
        args = (random(gen, F32, T, B, 4 * H), random(gen, F32, B, H), random(gen, F32, B, H),
                random(gen, F32, 4 * H, H, scale=0.3))  # fmt: skip
        result = both_paths(lstm_scan, monkeypatch, *args, keep_h=k, recurrent_mask=m, transition=transition)
    else:
        args = (random(gen, F32, T, B, H), random(gen, F32, B, H), random(gen, F32, H, H, scale=0.3))
        nonlinearity = kernel.split("-")[1]
        result = both_paths(
            rnn_scan, monkeypatch, *args, nonlinearity=nonlinearity, keep=k, recurrent_mask=m, transition=transition
        )
    assert_close(*result)


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("bias", [False, True], ids=["", "bias_hn"])
def test_gru_native_equals_python_loop(case, bias, monkeypatch):
    keep, mask, B = case
    T, H = 7, 12
    gen = torch.Generator().manual_seed(3)
    k, m = masks(gen, F32, keep, mask, T, B, H)
    args = (random(gen, F32, T, B, 3 * H), random(gen, F32, B, H), random(gen, F32, 3 * H, H, scale=0.3),
            random(gen, F32, H) if bias else None)  # fmt: skip
    assert_close(*both_paths(gru_scan, monkeypatch, *args, keep=k, recurrent_mask=m))


@pytest.mark.parametrize("case", CASES, ids=case_id)
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_native_equals_python_loop(case, nonlinearity, monkeypatch):
    keep, mask, B = case
    T, H = 7, 12
    gen = torch.Generator().manual_seed(4)
    k, m = masks(gen, F32, keep, mask, T, B, H)
    args = (random(gen, F32, T, B, H), random(gen, F32, B, H), random(gen, F32, H, H, scale=0.3))
    assert_close(*both_paths(rnn_scan, monkeypatch, *args, nonlinearity=nonlinearity, keep=k, recurrent_mask=m))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_minimal_gru_native_equals_python_loop(case, monkeypatch):
    keep, mask, B = case
    T, H = 7, 12
    gen = torch.Generator().manual_seed(5)
    k, m = masks(gen, F32, keep, mask, T, B, H)
    args = (random(gen, F32, T, B, 2 * H), random(gen, F32, B, H), random(gen, F32, 2 * H, H, scale=0.3))
    assert_close(*both_paths(minimal_gru_scan, monkeypatch, *args, keep=k, recurrent_mask=m))


def test_long_sequence_at_batch_one_stays_close(monkeypatch):
    """200 steps of H 256, the benchmark's latency shape: the approximations do not build up."""
    gen = torch.Generator().manual_seed(6)
    T, H = 200, 256
    args = (random(gen, F32, T, 1, 4 * H), random(gen, F32, 1, H), random(gen, F32, 1, H),
            random(gen, F32, 4 * H, H, scale=H**-0.5))  # fmt: skip
    assert_close(*both_paths(lstm_scan, monkeypatch, *args))


def test_nonlinearities_match_torch_over_their_range():
    """With a zero recurrent weight an RNN step is act(xp): tanh and relu against torch over [-30, 30], with
    infinities and NaN; a GRU step with x_n large is 1 - sigmoid(x_z) (sigmoid against torch)."""
    x = torch.cat([torch.linspace(-30, 30, 20001), torch.tensor([0.0, -0.0, 1e-30, 100.0, -100.0, float("inf"),
                                                                  float("-inf"), float("nan")])])  # fmt: skip
    n = x.numel()
    ops = native.ops()
    zero = torch.zeros(1, 1)
    for code, reference in ((0, torch.tanh), (1, torch.relu)):  # n rows of one unit
        ys, _ = ops.rnn_forward(x.view(1, n, 1), torch.zeros(n, 1), zero, code, None, None, [], [], 0, False)
        torch.testing.assert_close(ys.view(n), reference(x), rtol=2e-7, atol=2e-7, equal_nan=True)
    xp = torch.stack([torch.zeros(n), x, torch.full((n,), 30.0)], 1).view(1, n, 3)
    ys, _ = ops.gru_forward(xp, torch.zeros(n, 1), torch.zeros(1, 3), None, None, None)
    torch.testing.assert_close(ys.view(n), 1 - torch.sigmoid(x), rtol=2e-7, atol=2e-7, equal_nan=True)


def test_training_and_other_dtypes_keep_the_python_loops(monkeypatch):
    """Only float32 inference, and bfloat16 inference of a few rows, run natively: training, float64 and
    bfloat16 above the row limit do not."""
    monkeypatch.setattr(rnn_module, "_forward_native", lambda *a, **k: pytest.fail("native loop taken"))
    monkeypatch.setattr(rnn_module, "_forward_native_bfloat16", lambda *a, **k: pytest.fail("native loop taken"))
    gen = torch.Generator().manual_seed(7)
    for dtype in (torch.float32, torch.float64):
        xp, h0, w = random(gen, dtype, 4, 2, 6), random(gen, dtype, 2, 6), random(gen, dtype, 6, 6)
        ys, _ = rnn_scan(xp, h0, w)  # training (inputs require grad)
        assert ys.grad_fn is not None
    with torch.no_grad():
        rnn_scan(xp, h0, w)  # float64 inference
    ys, _ = rnn_scan(xp.bfloat16(), h0.bfloat16(), w.bfloat16())  # bfloat16 training
    assert ys.grad_fn is not None
    assert not native.runs(torch.zeros(3, native.BFLOAT16_ROWS + 1, 4, dtype=torch.bfloat16))
    assert not native.runs(torch.zeros(3, 2, 4, dtype=torch.float64))


def test_turned_off_by_the_environment(monkeypatch):
    native.ops.cache_clear()
    monkeypatch.setenv(native.ENVIRONMENT, "0")
    try:
        assert native.ops() is None and not native.runs(torch.zeros(3, 1, 4))
    finally:
        native.ops.cache_clear()


def test_a_failed_build_warns_once_and_falls_back(monkeypatch):
    import torch.utils.cpp_extension as cpp_extension

    def broken(**kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(cpp_extension, "load", broken)
    native.ops.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert native.ops() is None
            assert native.ops() is None  # cached: no second attempt, no second warning
        assert len(caught) == 1 and "no compiler here" in str(caught[0].message)
        gen = torch.Generator().manual_seed(8)
        xp, h0, w = (random(gen, F32, *s).detach() for s in ((4, 1, 6), (1, 6), (6, 6)))
        ys, h_T = rnn_scan(xp, h0, w)  # the Python loop
        assert torch.equal(h_T, ys[-1])
    finally:
        native.ops.cache_clear()


def test_build_name_follows_the_sources(monkeypatch):
    name = native.build_name()
    assert name.startswith("rnnkit_native_") and name == native.build_name()
    monkeypatch.setattr(native, "_FLAGS", (*native._FLAGS, "-DRNNKIT_TEST"))
    assert native.build_name() != name


def test_transposed_weight_is_kept_until_the_weight_changes():
    w = torch.randn(6, 4)
    first = native.transposed(w)
    assert torch.equal(first, w.t()) and first.is_contiguous()
    assert native.transposed(w) is first
    with torch.no_grad():
        w.mul_(2)  # in place: a new version
    second = native.transposed(w)
    assert second is not first and torch.equal(second, w.t())
    key = id(w)
    del w
    assert key not in native._TRANSPOSED


def test_bad_tensors_get_a_clear_error():
    ops = native.ops()
    with pytest.raises(RuntimeError, match="xp must be float32"):
        ops.rnn_forward(torch.zeros(2, 1, 3, dtype=torch.float64), torch.zeros(1, 3), torch.zeros(3, 3), 0,
                        None, None, [], [], 0, False)  # fmt: skip
    with pytest.raises(RuntimeError, match="weight_hh_t must be contiguous"):
        ops.gru_forward(torch.zeros(2, 1, 9), torch.zeros(1, 3), torch.zeros(9, 3).t(), None, None, None)
