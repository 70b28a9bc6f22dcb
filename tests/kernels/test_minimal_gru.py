"""minimal_gru_scan against autograd through the plainly written minimal-GRU step (seed 000, eq. 10-14)."""

import itertools

import pytest
import torch

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
    xp, h0, w, k, m = inputs(torch.bfloat16, keep, mask)
    low = {"xp": xp, "h0": h0, "weight_hh": w, "keep": k, "recurrent_mask": m}
    shared.assert_bfloat16_loop_close_to_float32(minimal_gru_module, minimal_gru_scan, low, monkeypatch)


def test_bfloat16_loop_takes_the_packed_bfloat16_product(monkeypatch):
    bias = shared.assert_bfloat16_loop_takes_the_packed_product(
        minimal_gru_module, minimal_gru_scan, bfloat16_inputs(), monkeypatch
    )
    assert bias is None


def test_bfloat16_training_above_the_limit_runs_in_bfloat16(monkeypatch):
    low = bfloat16_inputs()
    shared.assert_bfloat16_training_runs_in_bfloat16(minimal_gru_module, minimal_gru_scan, low, monkeypatch)


def test_bfloat16_large_weight_runs_in_bfloat16_at_one_row(monkeypatch):
    shared.assert_large_bfloat16_weight_runs_in_bfloat16_at_one_row(
        minimal_gru_module, minimal_gru_scan, bfloat16_inputs(), monkeypatch
    )
