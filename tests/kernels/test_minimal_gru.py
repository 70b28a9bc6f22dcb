"""minimal_gru_scan against autograd through the plainly written minimal-GRU step (seed 000, eq. 10-14)."""

import itertools

import pytest
import torch

import rnnkit.kernels.linear as linear_module
import rnnkit.kernels.minimal_gru as minimal_gru_module
from rnnkit.kernels.minimal_gru import minimal_gru_scan
from tests.kernels import conftest as shared

T, B, H = 5, 3, 6


def reference(xp, h0, weight_hh, keep=None, recurrent_mask=None):
    """The minimal-GRU step equations of the module docstring, differentiated by autograd."""
    h, ys = h0, []
    for t in range(xp.shape[0]):
        h_in = h if recurrent_mask is None else h * recurrent_mask
        a_u, a_c = (xp[t] + h_in @ weight_hh.T).chunk(2, -1)
        gamma_u = torch.sigmoid(a_u)
        c_tilde = torch.tanh(a_c)
        h_tilde = gamma_u * c_tilde + (1 - gamma_u) * h
        h = h_tilde if keep is None else keep[t] * h + (1 - keep[t]) * h_tilde
        ys.append(h)
    return torch.stack(ys), h


def inputs(dtype, keep, mask):
    g = torch.Generator().manual_seed(1)
    xp, h0 = shared.random(g, dtype, T, B, 2 * H), shared.random(g, dtype, B, H)
    w = shared.random(g, dtype, 2 * H, H, scale=0.5)
    return xp, h0, w, *shared.masks(g, dtype, keep, mask, T, B, H)


def outputs_and_grads(fn, xp, h0, w, k, m):
    return shared.outputs_and_grads(*fn(xp, h0, w, k, m), [xp, h0, w])


def kernel(xp, h0, w, keep, recurrent_mask):
    return minimal_gru_scan(xp, h0, w, keep=keep, recurrent_mask=recurrent_mask)


@pytest.mark.parametrize("keep,mask", list(itertools.product([None, "full", "lengths"], [False, True])))
def test_matches_autograd_float64(keep, mask):
    args = inputs(torch.float64, keep, mask)
    shared.assert_all_close(outputs_and_grads(kernel, *args), outputs_and_grads(reference, *args))


@pytest.mark.parametrize("keep,mask", [("full", True), (None, False)])
def test_float32_close_to_float64(keep, mask):
    got = outputs_and_grads(kernel, *inputs(torch.float32, keep, mask))
    want = outputs_and_grads(reference, *inputs(torch.float64, keep, mask))
    shared.assert_all_close(got, want, rtol=1e-5, atol=1e-5)


def test_gradcheck():
    xp, h0, w, k, m = inputs(torch.float64, "full", True)
    xp, k = xp[:3, :2].detach().requires_grad_(), k[:3, :2]
    h0, m = h0[:2].detach().requires_grad_(), m[:2]
    assert torch.autograd.gradcheck(lambda *a: minimal_gru_scan(*a, keep=k, recurrent_mask=m), (xp, h0, w))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inference_equals_training(dtype):
    xp, h0, w, k, m = inputs(dtype, "full", True)
    shared.assert_inference_equals_training(minimal_gru_scan, xp, h0, w, keep=k, recurrent_mask=m)


def test_hand_worked_step():
    """One step with zero state and zero recurrent weights: h_1 = sigmoid(xp_u) * tanh(xp_c)."""
    xp = torch.tensor([[[0.0, 2.0, 1.0, -1.0]]], dtype=torch.float64)  # (T=1, B=1, 2H=4): a_u, a_c
    ys, h_T = minimal_gru_scan(xp, torch.zeros(1, 2, dtype=torch.float64), torch.zeros(4, 2, dtype=torch.float64))
    want = torch.tensor([[0.5 * 0.7615941559557649, -0.8807970779778823 * 0.7615941559557649]], dtype=torch.float64)
    torch.testing.assert_close(h_T, want, rtol=0, atol=1e-12)
    torch.testing.assert_close(ys[0], want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "change,message",
    [
        *shared.BAD_SHAPES,
    ],
)
def test_bad_input_names_the_argument(change, message):
    xp, h0, w, _, _ = inputs(torch.float32, None, False)
    args = change({"xp": xp, "h0": h0, "weight_hh": w, "keep": None, "recurrent_mask": None})
    with pytest.raises(ValueError, match=message):
        minimal_gru_scan(**args)


def test_no_input_requires_grad_records_nothing():
    shared.assert_no_grad_input_records_nothing(minimal_gru_scan, *inputs(torch.float32, None, False)[:3])


def test_outputs_are_tensors_of_their_own():
    shared.assert_outputs_are_tensors_of_their_own(minimal_gru_scan, *inputs(torch.float32, None, False)[:3])


def bfloat16_inputs() -> dict:
    xp, h0, w, k, m = inputs(torch.bfloat16, "full", True)
    return {"xp": xp, "h0": h0, "weight_hh": w, "keep": k, "recurrent_mask": m}


def test_bfloat16_runs_in_float32_up_to_its_limit(monkeypatch):
    shared.assert_bfloat16_rule(minimal_gru_module, minimal_gru_scan, bfloat16_inputs(), monkeypatch)


def test_bfloat16_small_product_is_float32_rounded():
    shared.assert_bfloat16_is_float32_rounded(minimal_gru_scan, bfloat16_inputs())


@pytest.mark.parametrize("keep,mask", [(None, False), ("full", True), ("lengths", False)])
def test_bfloat16_large_product_close_to_float32(keep, mask, monkeypatch):
    """The bfloat16 inference loop against the float32 scan of the same bfloat16 numbers."""
    monkeypatch.setattr(minimal_gru_module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)  # the bfloat16 loop itself
    xp, h0, w, k, m = (None if a is None else a.detach() for a in inputs(torch.bfloat16, keep, mask))
    low = {"xp": xp, "h0": h0, "weight_hh": w, "keep": k, "recurrent_mask": m}
    with torch.no_grad():
        got = minimal_gru_scan(**low)
        want = minimal_gru_scan(**{k: v.float() if v is not None else None for k, v in low.items()})
    assert all(g.dtype == torch.bfloat16 for g in got)
    shared.assert_all_close([g.float() for g in got], list(want), atol=0.05)


def test_bfloat16_loop_takes_the_packed_bfloat16_product(monkeypatch):
    """Above its limit a bfloat16 scan multiplies through prepacked_linear with the bfloat16 weight, packed once
    for the batch and called at every step, on the oneDNN route."""
    monkeypatch.setattr(minimal_gru_module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)
    calls = spy_on_prepacked_linear(monkeypatch)
    with torch.no_grad():
        minimal_gru_scan(**{k: v.detach() for k, v in bfloat16_inputs().items()})
    assert calls == [(torch.bfloat16, B), *["step"] * T]
    assert linear_module._onednn_faster(torch.bfloat16, B, torch.device("cpu"))


def test_bfloat16_training_above_the_limit_runs_in_bfloat16(monkeypatch):
    """Training keeps the loop as written, in bfloat16 (not the inference loop): outputs and gradients in
    bfloat16, each within 2% of its largest element of the float32 scan's of the same numbers."""
    monkeypatch.setattr(minimal_gru_module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)
    calls = spy_on_prepacked_linear(monkeypatch)
    low = bfloat16_inputs()
    up = {k: v.detach().float().requires_grad_(v.requires_grad) if v is not None else v for k, v in low.items()}
    got, want = minimal_gru_scan(**low), minimal_gru_scan(**up)
    leaves = [k for k, v in low.items() if isinstance(v, torch.Tensor) and v.requires_grad]
    got = [*got, *torch.autograd.grad(sum(out.float().sum() for out in got), [low[k] for k in leaves])]
    want = [*want, *torch.autograd.grad(sum(out.sum() for out in want), [up[k] for k in leaves])]
    assert calls == [] and all(g.dtype == torch.bfloat16 for g in got)
    for g, w in zip(got, want, strict=True):
        assert (g.float() - w).abs().max() <= 0.02 * w.abs().max()


def test_bfloat16_large_weight_runs_in_bfloat16_at_one_row(monkeypatch):
    """A weight whose float32 copy would not fit the cache takes the bfloat16 loop even for one row."""
    one_row = {k: v.detach()[..., :1, :] if k != "weight_hh" else v.detach() for k, v in bfloat16_inputs().items()}
    seen = []
    forward = minimal_gru_module._forward
    monkeypatch.setattr(
        minimal_gru_module, "_forward", lambda xp, *a, **k: seen.append(xp.dtype) or forward(xp, *a, **k)
    )
    calls = spy_on_prepacked_linear(monkeypatch)
    numel = one_row["weight_hh"].numel()
    for limit, loop_dtype in ((numel + 1, torch.float32), (numel, torch.bfloat16)):
        monkeypatch.setattr(linear_module, "BFLOAT16_LARGE_WEIGHT", limit)
        seen.clear()
        calls.clear()
        with torch.no_grad():
            got = minimal_gru_scan(**one_row)
        assert seen == [loop_dtype]
    assert calls[0] == (torch.bfloat16, 1)
    assert linear_module._onednn_faster(torch.bfloat16, 1, torch.device("cpu"), numel)
    with torch.no_grad():
        want = minimal_gru_scan(**{k: v.float() for k, v in one_row.items()})
    shared.assert_all_close([g.float() for g in got], list(want), atol=0.05)


def spy_on_prepacked_linear(monkeypatch) -> list:
    """Record each ``prepacked_linear(weight, rows)`` of the kernel as ``(weight.dtype, rows)`` and each call of
    the product it returns as "step"."""
    calls = []
    real = minimal_gru_module.prepacked_linear

    def spy(weight, rows, *args):
        calls.append((weight.dtype, rows))
        product = real(weight, rows, *args)
        return lambda *a, **k: calls.append("step") or product(*a, **k)

    monkeypatch.setattr(minimal_gru_module, "prepacked_linear", spy)
    return calls
