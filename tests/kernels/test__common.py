"""The scan kernels' shared pieces against their formulas written plainly; the thread count of their loops."""

import pytest
import torch

import rnnkit.kernels._common as common_module
import rnnkit.kernels.gru as gru_module
import rnnkit.kernels.lstm as lstm_module
import rnnkit.kernels.minimal_gru as minimal_gru_module
import rnnkit.kernels.rnn as rnn_module
from rnnkit.kernels._common import (
    alternating, bfloat16_in_float32, check_dtypes, check_scan, loop_threads, recurrent_grad, step_products, to_float32,
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


def _spy_on_steps(monkeypatch, module) -> dict[str, list[int]]:
    """The thread counts seen in the loops' steps: at ``torch.lerp`` (elementwise, forward loops), at
    ``torch.addmm`` and ``torch.mm`` (the forward loops' recurrent products; call ``stop_products`` before
    backward, whose weight gradients after the loop use them too) and at the kernel's ``recurrent_grad``
    (the backward loops' recurrent products)."""
    seen = {"elementwise": [], "products": [], "backward products": []}
    lerp, addmm, mm, grad = torch.lerp, torch.addmm, torch.mm, module.recurrent_grad

    def spy(fn, key):
        return lambda *a, **k: seen[key].append(torch.get_num_threads()) or fn(*a, **k)

    monkeypatch.setattr(torch, "lerp", spy(lerp, "elementwise"))
    monkeypatch.setattr(torch, "addmm", spy(addmm, "products"))
    monkeypatch.setattr(torch, "mm", spy(mm, "products"))
    monkeypatch.setattr(module, "recurrent_grad", spy(grad, "backward products"))
    seen["stop_products"] = lambda: (monkeypatch.setattr(torch, "addmm", addmm), monkeypatch.setattr(torch, "mm", mm))
    return seen


# (sleeping, steps above the limit): threads seen by the steps' elementwise operations and by their products
LOOP_THREADS = {
    (False, False): (1, 1),
    (False, True): (2, 2),
    (True, False): (1, 1),
    (True, True): (1, 2),  # the products alone on every thread
}


@pytest.mark.parametrize(("module", "scan", "gates"), KERNELS, ids=KERNEL_IDS)
@pytest.mark.parametrize("below", [0, 1], ids=["at-limit", "above-limit"])
@pytest.mark.parametrize("sleeping", [False, True])
def test_scan_loops_run_on_the_threads_their_steps_pay_for(
    two_threads, monkeypatch, module, scan, gates, below, sleeping
):
    inputs = _scan_inputs(gates)
    products = step_products(inputs["xp"].shape[1], inputs["weight_hh"])
    monkeypatch.setattr(common_module, "THREADS_SLEEP", sleeping)
    name = "LOOP_ONE_THREAD_PRODUCTS_SLEEPING" if sleeping else "LOOP_ONE_THREAD_PRODUCTS"
    monkeypatch.setattr(common_module, name, products - below)
    elementwise_threads, product_threads = LOOP_THREADS[sleeping, below == 1]
    seen = _spy_on_steps(monkeypatch, module)
    outputs = scan(**inputs)
    assert torch.get_num_threads() == 2
    seen["stop_products"]()
    sum(out.sum() for out in outputs).backward()
    steps = inputs["xp"].shape[0]
    assert len(seen["elementwise"]) >= steps and set(seen["elementwise"]) == {elementwise_threads}
    assert len(seen["products"]) >= steps and set(seen["products"]) == {product_threads}
    assert len(seen["backward products"]) == steps and set(seen["backward products"]) == {product_threads}
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize(("module", "scan", "gates"), KERNELS, ids=KERNEL_IDS)
@pytest.mark.parametrize("loop", ["forward", "backward"])
@pytest.mark.parametrize("large", [False, True], ids=["small-step", "large-step"])
def test_scan_loops_restore_the_thread_count_after_an_exception(
    two_threads, monkeypatch, module, scan, gates, loop, large
):
    # small: the whole loop on one thread; large, with sleeping threads: the failing product on both
    inside = 2 if large and loop == "backward" else 1

    def fail(*args, **kwargs):
        assert torch.get_num_threads() == inside
        raise RuntimeError("inside the loop")

    monkeypatch.setattr(common_module, "THREADS_SLEEP", True)
    monkeypatch.setattr(common_module, "LOOP_ONE_THREAD_PRODUCTS_SLEEPING", 0 if large else 1 << 40)
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


def test_wide_restores_the_loops_count_after_an_exception(two_threads, monkeypatch):
    monkeypatch.setattr(common_module, "THREADS_SLEEP", True)
    with pytest.raises(RuntimeError, match="in the product"):
        with loop_threads(common_module.LOOP_ONE_THREAD_PRODUCTS_SLEEPING + 1) as wide:
            with pytest.raises(RuntimeError, match="in the product"):
                with wide:
                    assert torch.get_num_threads() == 2
                    raise RuntimeError("in the product")
            assert torch.get_num_threads() == 1
            raise RuntimeError("in the product")
    assert torch.get_num_threads() == 2


@pytest.mark.parametrize("sleeping", [False, True])
@pytest.mark.parametrize("products", [0, 1 << 40], ids=["small-step", "large-step"])
def test_loop_threads_with_one_thread_changes_nothing(one_thread, monkeypatch, sleeping, products):
    monkeypatch.setattr(common_module, "THREADS_SLEEP", sleeping)
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    with loop_threads(products) as wide:
        assert torch.get_num_threads() == 1
        with wide:
            assert torch.get_num_threads() == 1
    assert calls == []


@pytest.mark.parametrize("sleeping", [False, True])
def test_loop_threads_takes_the_sleeping_limit_only_when_threads_sleep(two_threads, monkeypatch, sleeping):
    monkeypatch.setattr(common_module, "THREADS_SLEEP", sleeping)
    assert common_module.LOOP_ONE_THREAD_PRODUCTS < common_module.LOOP_ONE_THREAD_PRODUCTS_SLEEPING
    # (multiply-adds a step, threads in the loop, threads in its products)
    for products, inside, in_products in (
        (common_module.LOOP_ONE_THREAD_PRODUCTS, 1, 1),
        (common_module.LOOP_ONE_THREAD_PRODUCTS + 1, 1 if sleeping else 2, 1 if sleeping else 2),
        (common_module.LOOP_ONE_THREAD_PRODUCTS_SLEEPING, 1 if sleeping else 2, 1 if sleeping else 2),
        (common_module.LOOP_ONE_THREAD_PRODUCTS_SLEEPING + 1, 1 if sleeping else 2, 2),
    ):
        with loop_threads(products) as wide:
            assert torch.get_num_threads() == inside
            for _ in range(2):  # the context serves every step
                with wide:
                    assert torch.get_num_threads() == in_products
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


@pytest.mark.parametrize(("module", "scan", "gates"), KERNELS, ids=KERNEL_IDS)
@pytest.mark.parametrize("odd", ["recurrent_mask", "keep", "weight_hh"])
def test_scan_rejects_a_tensor_of_another_dtype_naming_it(module, scan, gates, odd):
    """bfloat16 inputs with one float32 tensor: a TypeError naming it and its dtype, before any product."""
    inputs = {k: v.detach().bfloat16() for k, v in _scan_inputs(gates).items()}
    inputs["recurrent_mask"] = torch.ones_like(inputs["h0"])
    name = "keep_h" if odd == "keep" and gates == 4 else odd
    inputs[name] = inputs[name].float()
    with pytest.raises(TypeError, match=rf"{scan.__name__}: all tensors must share one dtype.* {name} float32"):
        scan(**inputs)


def test_check_dtypes_names_every_tensor_and_the_allowed_dtypes():
    x, y = torch.zeros(1, dtype=torch.float16), torch.zeros(1, dtype=torch.float16)
    check_dtypes("k", {"x": x, "y": y, "z": None})  # one dtype, no restriction
    with pytest.raises(TypeError, match=r"^k: all tensors must share one dtype; got x float16, y float32$"):
        check_dtypes("k", {"x": x, "y": y.float()})
    with pytest.raises(TypeError, match=r"^k: all tensors must share one dtype of float32, float64; got x float16, y"):
        check_dtypes("k", {"x": x, "y": y}, (torch.float32, torch.float64))
