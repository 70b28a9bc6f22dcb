"""gru_scan against autograd through the plainly written GRU step, and against torch.nn.GRU."""

import itertools

import pytest
import torch
import torch.nn.functional as F

import rnnkit.kernels.gru as gru_module
from rnnkit.kernels.gru import gru_scan
from tests.kernels import conftest as shared

T, B, I, H = 5, 3, 4, 6


def reference(xp, h0, weight_hh, bias_hn=None, keep=None, recurrent_mask=None):
    """The GRU step equations of the module docstring, differentiated by autograd."""
    h, ys = h0, []
    for t in range(xp.shape[0]):
        x_r, x_z, x_n = xp[t].chunk(3, -1)
        h_in = h if recurrent_mask is None else h * recurrent_mask
        h_r, h_z, h_n = (h_in @ weight_hh.T).chunk(3, -1)
        b_hn = 0 if bias_hn is None else bias_hn
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * (h_n + b_hn))
        h_tilde = (1 - z) * n + z * h
        h = h_tilde if keep is None else keep[t] * h + (1 - keep[t]) * h_tilde
        ys.append(h)
    return torch.stack(ys), h


def inputs(dtype, bias, keep, mask):
    g = torch.Generator().manual_seed(1)
    xp, h0 = shared.random(g, dtype, T, B, 3 * H), shared.random(g, dtype, B, H)
    w = shared.random(g, dtype, 3 * H, H, scale=0.5)
    b = shared.random(g, dtype, H) if bias else None
    return xp, h0, w, b, *shared.masks(g, dtype, keep, mask, T, B, H)


def outputs_and_grads(fn, xp, h0, w, b, k, m):
    params = [t for t in (xp, h0, w, b) if t is not None]
    return shared.outputs_and_grads(*fn(xp, h0, w, b, keep=k, recurrent_mask=m), params)


def kernel(xp, h0, w, b, keep, recurrent_mask):
    return gru_scan(xp, h0, w, b, keep=keep, recurrent_mask=recurrent_mask)


def ref(xp, h0, w, b, keep, recurrent_mask):
    return reference(xp, h0, w, b, keep, recurrent_mask)


OPTIONS = list(itertools.product([False, True], [None, "full", "lengths"], [False, True]))


@pytest.mark.parametrize("bias,keep,mask", OPTIONS)
def test_matches_autograd_float64(bias, keep, mask):
    args = inputs(torch.float64, bias, keep, mask)
    shared.assert_all_close(outputs_and_grads(kernel, *args), outputs_and_grads(ref, *args))


@pytest.mark.parametrize("bias,keep,mask", [(True, "full", True), (False, None, False)])
def test_float32_close_to_float64(bias, keep, mask):
    args64 = inputs(torch.float64, bias, keep, mask)
    args32 = [None if a is None else a.detach().float().requires_grad_(a.requires_grad) for a in args64]
    got, want = outputs_and_grads(kernel, *args32), outputs_and_grads(ref, *args64)
    shared.assert_all_close(got, want, rtol=1e-5, atol=1e-5)


def test_gradcheck():
    xp, h0, w, b, k, m = inputs(torch.float64, True, "full", True)
    xp, k = xp[:3, :2].detach().requires_grad_(), k[:3, :2]
    h0, m = h0[:2].detach().requires_grad_(), m[:2]
    assert torch.autograd.gradcheck(lambda *a: gru_scan(*a, keep=k, recurrent_mask=m), (xp, h0, w, b))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_inference_equals_training(dtype):
    xp, h0, w, b, k, m = inputs(dtype, True, "full", True)
    shared.assert_inference_equals_training(gru_scan, xp, h0, w, b, keep=k, recurrent_mask=m)


def test_equals_torch_nn_gru():
    gru = torch.nn.GRU(I, H, dtype=torch.float64)
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, B, H, dtype=torch.float64, requires_grad=True)
    dys = torch.randn(T, B, H, dtype=torch.float64)

    want_ys, want_hn = gru(x, h0)
    want = torch.autograd.grad((want_ys * dys).sum() + want_hn.sum(), [x, h0, *gru.parameters()])

    b_hr, b_hz, b_hn = gru.bias_hh_l0.chunk(3)
    xp = F.linear(x, gru.weight_ih_l0, gru.bias_ih_l0 + torch.cat([b_hr, b_hz, torch.zeros_like(b_hn)]))
    ys, h_T = gru_scan(xp, h0[0], gru.weight_hh_l0, b_hn)
    got = torch.autograd.grad((ys * dys).sum() + h_T.sum(), [x, h0, *gru.parameters()])

    torch.testing.assert_close(ys, want_ys, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_T, want_hn[0], rtol=0, atol=1e-12)
    for a, e in zip(got, want):
        torch.testing.assert_close(a, e, rtol=0, atol=1e-10)


def test_only_some_inputs_require_grad():
    xp, h0, w, b, k, m = inputs(torch.float64, True, None, False)
    h0, b = h0.detach(), b.detach()
    ys, _ = gru_scan(xp, h0, w, b)
    dxp, dw = torch.autograd.grad(ys.sum(), [xp, w])
    ys_ref, _ = reference(xp, h0, w, b)
    want = torch.autograd.grad(ys_ref.sum(), [xp, w])
    torch.testing.assert_close(dxp, want[0], rtol=0, atol=1e-10)
    torch.testing.assert_close(dw, want[1], rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "change,message",
    [
        *shared.BAD_SHAPES,
        (lambda a: {**a, "bias_hn": a["bias_hn"][:-1]}, "bias_hn must have shape"),
    ],
)
def test_bad_shapes_name_the_argument(change, message):
    xp, h0, w, b, _, _ = inputs(torch.float32, True, None, False)
    args = change({"xp": xp, "h0": h0, "weight_hh": w, "bias_hn": b, "keep": None, "recurrent_mask": None})
    with pytest.raises(ValueError, match=message):
        gru_scan(**args)


def test_no_input_requires_grad_records_nothing():
    shared.assert_no_grad_input_records_nothing(gru_scan, *inputs(torch.float32, True, None, False)[:4])


def test_outputs_are_tensors_of_their_own():
    shared.assert_outputs_are_tensors_of_their_own(gru_scan, *inputs(torch.float32, True, None, False)[:4])


def test_strided_xp_and_broadcast_keep():
    """xp as a column slice of a wider projection (as for two directions) and keep of shape (T, 1, 1)."""
    xp, h0, w, b, _, m = inputs(torch.float64, True, None, True)
    wide = torch.cat([xp.detach(), torch.randn(T, B, 3 * H, dtype=torch.float64)], -1).requires_grad_()
    k = (torch.arange(T, dtype=torch.float64) % 2).view(T, 1, 1)
    got = outputs_and_grads(kernel, wide[..., : 3 * H], h0, w, b, k, m)
    want = outputs_and_grads(ref, wide[..., : 3 * H], h0, w, b, k.expand(T, B, H), m)
    shared.assert_all_close(got, want)


def bfloat16_inputs() -> dict:
    xp, h0, w, b, k, m = inputs(torch.bfloat16, True, "full", True)
    return {"xp": xp, "h0": h0, "weight_hh": w, "bias_hn": b, "keep": k, "recurrent_mask": m}


def test_bfloat16_runs_in_float32_up_to_its_limit(monkeypatch):
    shared.assert_bfloat16_rule(gru_module, gru_scan, bfloat16_inputs(), monkeypatch)


def test_bfloat16_small_product_is_float32_rounded():
    shared.assert_bfloat16_is_float32_rounded(gru_scan, bfloat16_inputs())


@pytest.mark.parametrize("bias,keep,mask", [(True, None, False), (True, "full", True), (False, "lengths", False)])
def test_bfloat16_large_product_close_to_float32(bias, keep, mask, monkeypatch):
    """The bfloat16 inference loop against the float32 scan of the same bfloat16 numbers."""
    xp, h0, w, b, k, m = inputs(torch.bfloat16, bias, keep, mask)
    low = {"xp": xp, "h0": h0, "weight_hh": w, "bias_hn": b, "keep": k, "recurrent_mask": m}
    shared.assert_bfloat16_loop_close_to_float32(gru_module, gru_scan, low, monkeypatch)


def test_bfloat16_loop_takes_the_packed_bfloat16_product(monkeypatch):
    """b_hn is packed with the weight as the bias of the n columns."""
    low = bfloat16_inputs()
    bias = shared.assert_bfloat16_loop_takes_the_packed_product(gru_module, gru_scan, low, monkeypatch)
    assert torch.equal(bias, torch.cat([torch.zeros(2 * H, dtype=torch.bfloat16), low["bias_hn"].detach()]))


def test_bfloat16_training_above_the_limit_runs_in_bfloat16(monkeypatch):
    shared.assert_bfloat16_training_runs_in_bfloat16(gru_module, gru_scan, bfloat16_inputs(), monkeypatch)


def test_bfloat16_large_weight_runs_in_bfloat16_at_one_row(monkeypatch):
    low = bfloat16_inputs()
    shared.assert_large_bfloat16_weight_runs_in_bfloat16_at_one_row(gru_module, gru_scan, low, monkeypatch)
