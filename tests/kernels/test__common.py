"""The scan kernels' shared pieces against their formulas written plainly; the thread count of their loops."""

import pytest
import torch

import rnnkit.kernels._common as common_module
import rnnkit.kernels.gru as gru_module
import rnnkit.kernels.lstm as lstm_module
import rnnkit.kernels.minimal_gru as minimal_gru_module
import rnnkit.kernels.rnn as rnn_module
from rnnkit.kernels._common import (
    alternating, bfloat16_in_float32, check_scan, loop_threads, recurrent_grad, step_products, to_float32,
    weight_grad_t,
)

B, H, G = 3, 4, 2


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("first_step", [False, True])
def test_recurrent_grad_is_dy_prev_plus_masked_product(masked, first_step):
    d_gates, w = torch.randn(B, G * H, dtype=torch.float64), torch.randn(G * H, H, dtype=torch.float64)
    m = torch.rand(B, H, dtype=torch.float64) if masked else None
    dy_prev = None if first_step else torch.randn(B, H, dtype=torch.float64)
    want = (d_gates @ w) * (1 if m is None else m) + (0 if dy_prev is None else dy_prev)
    torch.testing.assert_close(recurrent_grad(d_gates, w, m, dy_prev), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("T", [1, 5])
@pytest.mark.parametrize("masked", [False, True])
def test_weight_grad_t_sums_every_step_with_h0_first(T, masked):
    h0, ys = torch.randn(B, H, dtype=torch.float64), torch.randn(T, B, H, dtype=torch.float64)
    d_gates = torch.randn(T, B, G * H, dtype=torch.float64)
    m = torch.rand(B, H, dtype=torch.float64) if masked else None
    h_prev = torch.cat([h0[None], ys[:-1]])  # (T, B, H): h_{t-1}
    h_in = h_prev if m is None else h_prev * m
    want = sum(h_in[t].T @ d_gates[t] for t in range(T))  # (H, G*H)
    torch.testing.assert_close(weight_grad_t(h0, ys, d_gates, m), want, rtol=0, atol=1e-12)


def test_check_scan_names_the_keep_mask_by_its_argument():
    xp, h0, w = torch.zeros(5, B, G * H), torch.zeros(B, H), torch.zeros(G * H, H)
    assert check_scan("k", xp, h0, w, G, None, keep_h=torch.zeros(5, B, 1)) == (5, B, H)
    with pytest.raises(ValueError, match="k: keep_c must be"):
        check_scan("k", xp, h0, w, G, None, keep_h=None, keep_c=torch.zeros(5, B, 2))


def test_bfloat16_in_float32_up_to_the_limit_and_only_for_bfloat16():
    w = torch.zeros(G * H, H, dtype=torch.bfloat16)
    xp = torch.zeros(5, B, G * H, dtype=torch.bfloat16)
    limit = B * G * H * H  # multiply-adds of one step's recurrent product
    assert bfloat16_in_float32(xp, w, limit)
    assert not bfloat16_in_float32(xp, w, limit - 1)
    assert not bfloat16_in_float32(xp.float(), w.float(), limit)


def test_to_float32_keeps_none_and_the_gradient_path():
    x = torch.ones(2, dtype=torch.bfloat16, requires_grad=True)
    up, none = to_float32(x, None)
    assert up.dtype == torch.float32 and none is None
    (3 * up).sum().backward()
    assert x.grad.dtype == torch.bfloat16 and x.grad.tolist() == [3.0, 3.0]


def test_alternating_views_take_turns_over_the_buffer_rows():
    buffer = torch.zeros(2, B, H)
    views = alternating(buffer, 5)
    assert len(views) == 5
    for t, view in enumerate(views):
        view.fill_(t)  # writes land in row t % 2, so the last two steps are what remain
        assert view.data_ptr() == buffer[t % 2].data_ptr()
    assert torch.equal(buffer[0], torch.full((B, H), 4.0)) and torch.equal(buffer[1], torch.full((B, H), 3.0))


def _scan_inputs(gates: int, batch: int = 2, steps: int = 4, hidden: int = 3) -> dict:
    """Keyword arguments of a scan kernel with ``gates`` gate blocks, keep masks given (so that every
    forward loop calls ``torch.lerp`` at each step), the differentiable tensors requiring grad."""
    gen = torch.Generator().manual_seed(0)
    inputs = {
        "xp": torch.randn(steps, batch, gates * hidden, generator=gen, dtype=torch.float64),
        "h0": torch.randn(batch, hidden, generator=gen, dtype=torch.float64),
        "weight_hh": torch.randn(gates * hidden, hidden, generator=gen, dtype=torch.float64),
    }
    keep = (torch.rand(steps, batch, hidden, generator=gen) < 0.3).double()
    if gates == 4:
        inputs |= {"c0": torch.randn(batch, hidden, generator=gen, dtype=torch.float64), "keep_h": keep, "keep_c": keep}
    else:
        inputs["keep"] = keep
    for name in ("xp", "h0", "weight_hh", "c0"):
        if name in inputs:
            inputs[name].requires_grad_()
    return inputs


# (kernel module, scan, gate blocks): every scan kernel with a loop through time.
KERNELS = [
    (gru_module, gru_module.gru_scan, 3),
    (lstm_module, lstm_module.lstm_scan, 4),
    (minimal_gru_module, minimal_gru_module.minimal_gru_scan, 2),
    (rnn_module, rnn_module.rnn_scan, 1),
]
KERNEL_IDS = ["gru", "lstm", "minimal_gru", "rnn"]


def _set_threads(count: int):
    """``count`` torch threads for a test, the count before restored after it."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def one_thread():
    yield from _set_threads(1)


@pytest.fixture
def two_threads():
    yield from _set_threads(2)


def _spy_on_steps(monkeypatch, module) -> tuple[list[int], list[int]]:
    """The thread counts seen at each call of ``torch.lerp`` (forward loops) and of the kernel's
    ``recurrent_grad`` (backward loops)."""
    forward, backward = [], []
    lerp, grad = torch.lerp, module.recurrent_grad
    monkeypatch.setattr(torch, "lerp", lambda *a, **k: forward.append(torch.get_num_threads()) or lerp(*a, **k))
    monkeypatch.setattr(
        module, "recurrent_grad", lambda *a, **k: backward.append(torch.get_num_threads()) or grad(*a, **k)
    )
    return forward, backward


@pytest.mark.parametrize(("module", "scan", "gates"), KERNELS, ids=KERNEL_IDS)
@pytest.mark.parametrize(("below", "loop_threads_seen"), [(0, 1), (1, 2)], ids=["at-limit", "above-limit"])
@pytest.mark.parametrize("sleeping", [False, True])
def test_scan_loops_run_on_one_thread_up_to_the_limit(
    two_threads, monkeypatch, module, scan, gates, below, loop_threads_seen, sleeping
):
    inputs = _scan_inputs(gates)
    products = step_products(inputs["xp"].shape[1], inputs["weight_hh"])
    monkeypatch.setattr(common_module, "THREADS_SLEEP", sleeping)
    name = "LOOP_ONE_THREAD_PRODUCTS_SLEEPING" if sleeping else "LOOP_ONE_THREAD_PRODUCTS"
    monkeypatch.setattr(common_module, name, products - below)
    forward, backward = _spy_on_steps(monkeypatch, module)
    outputs = scan(**inputs)
    assert torch.get_num_threads() == 2
    sum(out.sum() for out in outputs).backward()
    steps = inputs["xp"].shape[0]
    assert len(forward) >= steps and set(forward) == {loop_threads_seen}
    assert len(backward) == steps and set(backward) == {loop_threads_seen}
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize(("module", "scan", "gates"), KERNELS, ids=KERNEL_IDS)
@pytest.mark.parametrize("loop", ["forward", "backward"])
def test_scan_loops_restore_the_thread_count_after_an_exception(two_threads, monkeypatch, module, scan, gates, loop):
    def fail(*args, **kwargs):
        assert torch.get_num_threads() == 1
        raise RuntimeError("inside the loop")

    monkeypatch.setattr(common_module, "LOOP_ONE_THREAD_PRODUCTS", 1 << 40)
    monkeypatch.setattr(common_module, "LOOP_ONE_THREAD_PRODUCTS_SLEEPING", 1 << 40)
    inputs = _scan_inputs(gates)
    if loop == "forward":
        monkeypatch.setattr(torch, "lerp", fail)
        with pytest.raises(RuntimeError, match="inside the loop"):
            scan(**inputs)
    else:
        monkeypatch.setattr(module, "recurrent_grad", fail)
        outputs = scan(**inputs)
        with pytest.raises(RuntimeError, match="inside the loop"):
            sum(out.sum() for out in outputs).backward()
    assert torch.get_num_threads() == 2


def test_loop_threads_with_one_thread_changes_nothing(one_thread, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    with loop_threads(0):
        assert torch.get_num_threads() == 1
    assert calls == []


@pytest.mark.parametrize("sleeping", [False, True])
def test_loop_threads_takes_the_sleeping_limit_only_when_threads_sleep(two_threads, monkeypatch, sleeping):
    monkeypatch.setattr(common_module, "THREADS_SLEEP", sleeping)
    assert common_module.LOOP_ONE_THREAD_PRODUCTS < common_module.LOOP_ONE_THREAD_PRODUCTS_SLEEPING
    for products, inside in (
        (common_module.LOOP_ONE_THREAD_PRODUCTS, 1),
        (common_module.LOOP_ONE_THREAD_PRODUCTS + 1, 1 if sleeping else 2),
        (common_module.LOOP_ONE_THREAD_PRODUCTS_SLEEPING, 1 if sleeping else 2),
        (common_module.LOOP_ONE_THREAD_PRODUCTS_SLEEPING + 1, 2),
    ):
        with loop_threads(products):
            assert torch.get_num_threads() == inside
        assert torch.get_num_threads() == 2


def test_loop_threads_restores_the_count_after_an_exception(two_threads):
    with pytest.raises(ValueError, match="step"):
        with loop_threads(0):
            assert torch.get_num_threads() == 1
            raise ValueError("step")
    assert torch.get_num_threads() == 2


def test_step_products_counts_the_recurrent_weight_and_the_layers():
    w, layers = torch.zeros(G * H, H), [torch.zeros(H, H), torch.zeros(H, H)]
    assert step_products(B, w) == B * G * H * H
    assert step_products(B, w, layers) == B * (G * H * H + 2 * H * H)
