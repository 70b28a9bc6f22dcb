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
    """Only float32 and bfloat16 inference run natively: training and float64 loops do not (bfloat16's row
    limits: test_bf16_route_up_to_each_kernels_row_limit)."""
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
    assert not native.runs(torch.zeros(3, 2, 4, dtype=torch.float64))
    assert not native.runs(torch.zeros(3, 2, 4, dtype=torch.bfloat16))  # the float32 loops' predicate


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


# bfloat16: the native loops against a float32 reference of their own rounding (h_t to bfloat16 as the
# product's input and the output, everything else in float32), and against the Python bfloat16 loops.
BF16 = torch.bfloat16
# a few units in the last place of bfloat16 (2^-8 relative): a rounding flipped by another summation order
BF16_TOL = {"rtol": 2**-6, "atol": 2**-6}
BF16_CASES = [(None, False, 1), ("full", True, 3), ("lengths", False, 2)]
ACT = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}


def bf16_reference(kind, xp, h0, w, *, bias_hn=None, keep=None, recurrent_mask=None, act="tanh", transition=None):
    """ys (T, B, H) in bfloat16 by the native bfloat16 loops' arithmetic, in float32 torch operations."""
    T, H = xp.shape[0], h0.shape[1]
    f = [t.float() if t is not None else None for t in (xp, w, bias_hn, keep, recurrent_mask)]
    x, w32, b_hn, k, m = f
    state, h16, ys = h0.float(), h0, []
    for t in range(T):
        u = h16 if m is None else (h16.float() * m).bfloat16()  # the product's input
        if transition is not None:
            u_0 = u
            for layer, (W_k, b_k) in enumerate(zip(transition.weights, transition.biases)):
                z = ACT[transition.activation](u.float() @ W_k.float().T + (b_k.float() if b_k is not None else 0))
                last_skip = transition.skip and layer == len(transition.weights) - 1
                u = (u_0.float() + z).bfloat16() if last_skip else z.bfloat16()
        g = u.float() @ w32.T
        if kind == "gru":
            x_r, x_z, x_n = x[t].split(H, -1)
            g_r, g_z, g_n = g.split(H, -1)
            r, z = torch.sigmoid(x_r + g_r), torch.sigmoid(x_z + g_z)
            n = torch.tanh(x_n + r * (g_n + (b_hn if b_hn is not None else 0)))
            h_tilde = n + z * (state - n)
        elif kind == "rnn":
            h_tilde = ACT[act](x[t] + g)
        else:
            a_u, a_c = (x[t] + g).split(H, -1)
            h_tilde = state + torch.sigmoid(a_u) * (torch.tanh(a_c) - state)
        state = h_tilde if k is None else h_tilde + k[t] * (state - h_tilde)
        h16 = state.bfloat16()
        ys.append(h16)
    return torch.stack(ys)


def bf16_inputs(kind, seed, keep, mask, B, T=7, H=12, gates=None):
    gen = torch.Generator().manual_seed(seed)
    G = gates or {"gru": 3, "rnn": 1, "minimal_gru": 2}[kind]
    k, m = masks(gen, BF16, keep, mask, T, B, H)
    xp, h0 = random(gen, BF16, T, B, G * H).detach(), random(gen, BF16, B, H).detach()
    w = random(gen, BF16, G * H, H, scale=0.4).detach()
    return xp, h0, w, k, m, gen


def native_and_python_bf16(scan, module, monkeypatch, *args, **kwargs):
    """(native, Python loop) results of the same bfloat16 inference call, each checked to take its route: the
    Python bfloat16 loop, not the float32 one small products otherwise take. (Its products are rounded to
    bfloat16 where they go to oneDNN, above one row: the two differ by those roundings, carried on.)"""
    calls, loops = [], []
    original, loop = module._forward_native_bfloat16, module._forward_bfloat16
    monkeypatch.setattr(module, "_forward_native_bfloat16", lambda *a: calls.append(1) or original(*a))
    monkeypatch.setattr(module, "_forward_bfloat16", lambda *a: loops.append(1) or loop(*a))
    monkeypatch.setattr(module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)
    with torch.no_grad():
        got = scan(*args, **kwargs)
        assert calls == [1] and loops == []
        monkeypatch.setattr(native, "runs_bfloat16", lambda xp: False)
        want = scan(*args, **kwargs)
        assert calls == [1] and loops == [1]
    assert all(t.dtype == BF16 for t in (*got, *want))
    return got, want


def assert_bf16_close(got, want):
    assert got.dtype == want.dtype == BF16 and got.shape == want.shape
    torch.testing.assert_close(got.float(), want.float(), **BF16_TOL)


@pytest.mark.parametrize("case", BF16_CASES, ids=case_id)
@pytest.mark.parametrize("bias", [False, True], ids=["", "bias_hn"])
def test_gru_bf16_native_equals_its_reference_and_the_python_loop(case, bias, monkeypatch):
    keep, mask, B = case
    xp, h0, w, k, m, gen = bf16_inputs("gru", 11, keep, mask, B)
    b_hn = random(gen, BF16, 12).detach() if bias else None
    (ys, h_T), (ys_py, h_py) = native_and_python_bf16(
        gru_scan, gru_module, monkeypatch, xp, h0, w, b_hn, keep=k, recurrent_mask=m
    )
    assert torch.equal(h_T, ys[-1])
    assert_bf16_close(ys, bf16_reference("gru", xp, h0, w, bias_hn=b_hn, keep=k, recurrent_mask=m))
    assert_bf16_close(ys, ys_py)
    assert_bf16_close(h_T, h_py)


@pytest.mark.parametrize("case", BF16_CASES, ids=case_id)
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_rnn_bf16_native_equals_its_reference_and_the_python_loop(case, nonlinearity, monkeypatch):
    keep, mask, B = case
    xp, h0, w, k, m, _ = bf16_inputs("rnn", 12, keep, mask, B)
    (ys, h_T), (ys_py, h_py) = native_and_python_bf16(
        rnn_scan, rnn_module, monkeypatch, xp, h0, w, nonlinearity=nonlinearity, keep=k, recurrent_mask=m
    )
    assert torch.equal(h_T, ys[-1])
    reference = bf16_reference("rnn", xp, h0, w, keep=k, recurrent_mask=m, act=nonlinearity)
    assert_bf16_close(ys, reference)
    assert_bf16_close(ys, ys_py)


@pytest.mark.parametrize("form", FORMS, ids=form_id)
def test_rnn_bf16_native_with_a_transition(form, monkeypatch):
    """One row, where the Python loop's products are not rounded either (MKL in float32): two relu layers
    with skip carry the roundings of oneDNN's bfloat16 products to several units in the last place."""
    xp, h0, w, k, m, gen = bf16_inputs("rnn", 13, "full", True, 1, H=10)
    transition = random_transition(gen, BF16, form, 10)
    transition = transition.with_tensors([t.detach() if t is not None else None for t in transition.tensors()])
    (ys, _), (ys_py, _) = native_and_python_bf16(
        rnn_scan, rnn_module, monkeypatch, xp, h0, w, keep=k, recurrent_mask=m, transition=transition
    )
    assert_bf16_close(ys, bf16_reference("rnn", xp, h0, w, keep=k, recurrent_mask=m, transition=transition))
    assert_bf16_close(ys, ys_py)


@pytest.mark.parametrize("case", BF16_CASES, ids=case_id)
def test_minimal_gru_bf16_native_equals_its_reference_and_the_python_loop(case, monkeypatch):
    keep, mask, B = case
    xp, h0, w, k, m, _ = bf16_inputs("minimal_gru", 14, keep, mask, B)
    (ys, h_T), (ys_py, _) = native_and_python_bf16(
        minimal_gru_scan, minimal_gru_module, monkeypatch, xp, h0, w, keep=k, recurrent_mask=m
    )
    assert torch.equal(h_T, ys[-1])
    assert_bf16_close(ys, bf16_reference("minimal_gru", xp, h0, w, keep=k, recurrent_mask=m))
    assert_bf16_close(ys, ys_py)


def test_bf16_long_sequence_at_batch_one_stays_close(monkeypatch):
    """100 steps of the benchmark's GRU (H 256, every panel shape of the product at one row): no drift."""
    xp, h0, w, _, _, _ = bf16_inputs("gru", 15, None, False, 1, T=100, H=256)
    w = (w.float() * 256**-0.5 / 0.4).bfloat16()
    (ys, _), (ys_py, _) = native_and_python_bf16(gru_scan, gru_module, monkeypatch, xp, h0, w)
    assert_bf16_close(ys, bf16_reference("gru", xp, h0, w))
    assert_bf16_close(ys, ys_py)


@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 9])
def test_bf16_product_is_exact_and_rounds_to_nearest_even(rows):
    """With small integers every product and sum is exact in float32, so relu(h W^T) rounded to bfloat16 must
    be torch's rounding bit for bit: sums above 256 land between bfloat16 neighbours, ties among them. Every
    row count of the product's panels; H 70 pads N to two groups of 64 and 256 fills four; a transition layer
    of 33 units pads K to 34 (u_1 = relu(h W_1^T) rounded, then an identity recurrent weight)."""
    gen = torch.Generator().manual_seed(16)
    ops = native.ops()
    for H in (70, 256):
        h0 = torch.randint(-8, 9, (rows, H), generator=gen).to(BF16)
        w = torch.randint(-8, 9, (H, H), generator=gen).to(BF16)
        ys, _ = ops.rnn_forward_bf16(torch.zeros(1, rows, H, dtype=BF16), h0, native.packed_bf16(w), 1, None, None,
                                     [], [], 0, False)  # fmt: skip
        assert torch.equal(ys[0], torch.relu(h0.float() @ w.float().T).bfloat16())
    h0 = torch.randint(-8, 9, (rows, 33), generator=gen).to(BF16)
    w_1 = torch.randint(-8, 9, (33, 33), generator=gen).to(BF16)
    eye = torch.eye(33, dtype=BF16)
    ys, _ = ops.rnn_forward_bf16(torch.zeros(1, rows, 33, dtype=BF16), h0, native.packed_bf16(eye), 1, None, None,
                                 [native.packed_bf16(w_1)], [torch.empty(0)], 1, False)  # fmt: skip
    assert torch.equal(ys[0], torch.relu(h0.float() @ w_1.float().T).bfloat16())


def test_bf16_nan_and_infinity_pass_through():
    xp = torch.tensor([float("nan"), float("inf"), -float("inf"), 1.0], dtype=BF16).view(1, 1, 4)
    zero = torch.zeros(4, 4, dtype=BF16)
    ys, _ = native.ops().rnn_forward_bf16(xp, torch.zeros(1, 4, dtype=BF16), native.packed_bf16(zero), 0,
                                          None, None, [], [], 0, False)  # fmt: skip
    torch.testing.assert_close(ys.view(4), torch.tanh(xp.view(4)), equal_nan=True)


@pytest.mark.parametrize("module, scan, gates", [(gru_module, gru_scan, 3), (rnn_module, rnn_scan, 1),
                                                 (minimal_gru_module, minimal_gru_scan, 2)])  # fmt: skip
def test_bf16_route_up_to_each_kernels_row_limit(module, scan, gates, monkeypatch):
    """Taken in inference up to the kernel's BFLOAT16_NATIVE_ROWS, not one row above it, nor in training, nor
    where the loops lack AVX-512 BF16 (then the earlier routes run, still in bfloat16)."""
    calls = []
    original = module._forward_native_bfloat16
    monkeypatch.setattr(module, "_forward_native_bfloat16", lambda *a: calls.append(a[0].shape[1]) or original(*a))
    limit = module.BFLOAT16_NATIVE_ROWS
    gen = torch.Generator().manual_seed(17)
    H = 6

    def run(B, grad=False):
        xp, h0, w = random(gen, BF16, 3, B, gates * H), random(gen, BF16, B, H), random(gen, BF16, gates * H, H)
        with torch.set_grad_enabled(grad):
            ys, h_T = scan(xp, h0, w)
        assert ys.dtype == h_T.dtype == BF16 and ys.shape == (3, B, H)
        return ys

    run(limit)
    run(limit + 1)
    assert run(1, grad=True).grad_fn is not None
    assert calls == [limit]
    monkeypatch.setattr(native, "bf16_supported", lambda: False)
    assert not native.runs_bfloat16(torch.zeros(3, 1, 4, dtype=BF16))
    run(1)
    assert calls == [limit]


def test_bf16_supported_matches_the_cpu():
    """The bfloat16 loops are compiled in exactly where the CPU (whose flags the build targets) has AVX-512 BF16."""
    flags = native._cpu().split()
    assert native.bf16_supported() == ("avx512_bf16" in flags)


def test_packed_weight_layout_and_cache():
    w = torch.randn(70, 33).bfloat16()
    packed = native.packed_bf16(w)
    assert packed.shape == (2, 17, 64, 2) and packed.dtype == BF16
    g, p, c, e = 1, 16, 5, 0
    assert packed[g, p, c, e] == w[64 * g + c, 2 * p + e]
    assert torch.equal(packed[1, :, 6:], torch.zeros(17, 58, 2, dtype=BF16))  # columns 70..127: padding
    assert torch.equal(packed[:, 16, :, 1], torch.zeros(2, 64, dtype=BF16))  # k 33: padding
    assert native.packed_bf16(w) is packed
    w.mul_(2)
    assert native.packed_bf16(w) is not packed
    key = id(w)
    del w
    assert key not in native._PACKED


def test_bf16_bad_tensors_get_a_clear_error():
    ops = native.ops()
    packed = native.packed_bf16(torch.zeros(9, 3, dtype=BF16))
    with pytest.raises(RuntimeError, match="xp must be bfloat16"):
        ops.gru_forward_bf16(torch.zeros(2, 1, 9), torch.zeros(1, 3, dtype=BF16), packed, None, None, None)
    packed = native.packed_bf16(torch.zeros(6, 5, dtype=BF16))  # K 5: 3 pairs, where H 3 has 2
    with pytest.raises(RuntimeError, match=r"weight_packed must be a \(6, 3\) weight packed"):
        ops.minimal_gru_forward_bf16(torch.zeros(2, 1, 6, dtype=BF16), torch.zeros(1, 3, dtype=BF16), packed,
                                     None, None)  # fmt: skip


@pytest.mark.parametrize("module", [gru_module, rnn_module, minimal_gru_module], ids=["gru", "rnn", "minimal_gru"])
def test_bfloat16_above_the_native_rows_takes_the_python_bfloat16_loop(module, monkeypatch):
    """Past BFLOAT16_NATIVE_ROWS a bfloat16 scan that stays in bfloat16 runs the Python bfloat16 loop, never a
    float32 native loop (which would refuse bfloat16 tensors)."""
    monkeypatch.setattr(module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)
    loops = []
    loop = module._forward_bfloat16
    monkeypatch.setattr(module, "_forward_bfloat16", lambda *a: loops.append(1) or loop(*a))
    gates = {gru_module: 3, rnn_module: 1, minimal_gru_module: 2}[module]
    B, H = module.BFLOAT16_NATIVE_ROWS + 1, 8
    scan = {gru_module: gru_scan, rnn_module: rnn_scan, minimal_gru_module: minimal_gru_scan}[module]
    with torch.no_grad():
        ys, h_T = scan(torch.randn(3, B, gates * H).bfloat16(), torch.zeros(B, H).bfloat16(),
                       torch.randn(gates * H, H).bfloat16())  # fmt: skip
    assert loops == [1] and ys.dtype == h_T.dtype == torch.bfloat16
