"""rnn_scan against autograd through the plainly written RNN step, and against torch.nn.RNN."""

import itertools

import pytest
import torch
import torch.nn.functional as F

import rnnkit.kernels.linear as linear_module
import rnnkit.kernels.rnn as rnn_module
from rnnkit.kernels.rnn import rnn_scan
from tests.kernels import conftest as shared

T, B, I, H = 5, 3, 4, 6


def reference(xp, h0, weight_hh, nonlinearity, keep=None, recurrent_mask=None):
    """The RNN step equations of the module docstring, differentiated by autograd."""
    act = torch.tanh if nonlinearity == "tanh" else torch.relu
    h, ys = h0, []
    for t in range(xp.shape[0]):
        h_in = h if recurrent_mask is None else h * recurrent_mask
        h_tilde = act(xp[t] + h_in @ weight_hh.T)
        h = h_tilde if keep is None else keep[t] * h + (1 - keep[t]) * h_tilde
        ys.append(h)
    return torch.stack(ys), h


def inputs(dtype, keep, mask):
    g = torch.Generator().manual_seed(1)
    xp, h0 = shared.random(g, dtype, T, B, H), shared.random(g, dtype, B, H)
    w = shared.random(g, dtype, H, H, scale=0.5)
    return xp, h0, w, *shared.masks(g, dtype, keep, mask, T, B, H)


def outputs_and_grads(fn, nonlinearity, xp, h0, w, k, m):
    return shared.outputs_and_grads(*fn(xp, h0, w, nonlinearity, k, m), [xp, h0, w])


def kernel(xp, h0, w, nonlinearity, keep, recurrent_mask):
    return rnn_scan(xp, h0, w, nonlinearity=nonlinearity, keep=keep, recurrent_mask=recurrent_mask)


OPTIONS = list(itertools.product(["tanh", "relu"], [None, "full", "lengths"], [False, True]))


@pytest.mark.parametrize("nonlinearity,keep,mask", OPTIONS)
def test_matches_autograd_float64(nonlinearity, keep, mask):
    args = inputs(torch.float64, keep, mask)
    got, want = outputs_and_grads(kernel, nonlinearity, *args), outputs_and_grads(reference, nonlinearity, *args)
    shared.assert_all_close(got, want)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_float32_close_to_float64(nonlinearity):
    got = outputs_and_grads(kernel, nonlinearity, *inputs(torch.float32, "full", True))
    want = outputs_and_grads(reference, nonlinearity, *inputs(torch.float64, "full", True))
    shared.assert_all_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_gradcheck(nonlinearity):
    xp, h0, w, k, m = inputs(torch.float64, "full", True)
    xp, k = xp[:3, :2].detach().requires_grad_(), k[:3, :2]
    h0, m = h0[:2].detach().requires_grad_(), m[:2]
    fn = lambda *a: rnn_scan(*a, nonlinearity=nonlinearity, keep=k, recurrent_mask=m)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (xp, h0, w))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("keep", [None, "full"])
def test_inference_equals_training(dtype, keep):
    xp, h0, w, k, m = inputs(dtype, keep, True)
    shared.assert_inference_equals_training(rnn_scan, xp, h0, w, keep=k, recurrent_mask=m)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_equals_torch_nn_rnn(nonlinearity):
    rnn = torch.nn.RNN(I, H, nonlinearity=nonlinearity, dtype=torch.float64)
    x = torch.randn(T, B, I, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, B, H, dtype=torch.float64, requires_grad=True)
    dys = torch.randn(T, B, H, dtype=torch.float64)

    want_ys, want_hn = rnn(x, h0)
    want = torch.autograd.grad((want_ys * dys).sum() + want_hn.sum(), [x, h0, *rnn.parameters()])

    xp = F.linear(x, rnn.weight_ih_l0, rnn.bias_ih_l0 + rnn.bias_hh_l0)
    ys, h_T = rnn_scan(xp, h0[0], rnn.weight_hh_l0, nonlinearity=nonlinearity)
    got = torch.autograd.grad((ys * dys).sum() + h_T.sum(), [x, h0, *rnn.parameters()])

    torch.testing.assert_close(ys, want_ys, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_T, want_hn[0], rtol=0, atol=1e-12)
    for a, e in zip(got, want):
        torch.testing.assert_close(a, e, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "change,message",
    [
        *shared.BAD_SHAPES,
        (lambda a: {**a, "nonlinearity": "sigmoid"}, "nonlinearity must be"),
    ],
)
def test_bad_input_names_the_argument(change, message):
    xp, h0, w, _, _ = inputs(torch.float32, None, False)
    args = change({"xp": xp, "h0": h0, "weight_hh": w, "nonlinearity": "tanh", "keep": None, "recurrent_mask": None})
    with pytest.raises(ValueError, match=message):
        rnn_scan(**args)


def test_no_input_requires_grad_records_nothing():
    shared.assert_no_grad_input_records_nothing(rnn_scan, *inputs(torch.float32, None, False)[:3])


def test_outputs_are_tensors_of_their_own():
    shared.assert_outputs_are_tensors_of_their_own(rnn_scan, *inputs(torch.float32, None, False)[:3])


def bfloat16_inputs() -> dict:
    xp, h0, w, k, m = inputs(torch.bfloat16, "full", True)
    return {"xp": xp, "h0": h0, "weight_hh": w, "nonlinearity": "tanh", "keep": k, "recurrent_mask": m}


def test_bfloat16_runs_in_float32_up_to_its_limit(monkeypatch):
    shared.assert_bfloat16_rule(rnn_module, rnn_scan, bfloat16_inputs(), monkeypatch)


def test_bfloat16_small_product_is_float32_rounded():
    shared.assert_bfloat16_is_float32_rounded(rnn_scan, bfloat16_inputs())


@pytest.mark.parametrize(
    "nonlinearity,keep,mask", [("tanh", None, False), ("tanh", "full", True), ("relu", "lengths", False)]
)
def test_bfloat16_large_product_close_to_float32(nonlinearity, keep, mask, monkeypatch):
    """The bfloat16 inference loop against the float32 scan of the same bfloat16 numbers."""
    monkeypatch.setattr(rnn_module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)  # the bfloat16 loop itself
    xp, h0, w, k, m = (None if a is None else a.detach() for a in inputs(torch.bfloat16, keep, mask))
    low = {"xp": xp, "h0": h0, "weight_hh": w, "nonlinearity": nonlinearity, "keep": k, "recurrent_mask": m}
    with torch.no_grad():
        got = rnn_scan(**low)
        want = rnn_scan(**{k: v.float() if isinstance(v, torch.Tensor) else v for k, v in low.items()})
    assert all(g.dtype == torch.bfloat16 for g in got)
    shared.assert_all_close([g.float() for g in got], list(want), atol=0.05)


def test_bfloat16_loop_takes_the_packed_bfloat16_product(monkeypatch):
    """Above its limit a bfloat16 scan multiplies through prepacked_linear with the bfloat16 weight, packed once
    for the batch and called at every step, on the oneDNN route."""
    monkeypatch.setattr(rnn_module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)
    calls = spy_on_prepacked_linear(monkeypatch)
    with torch.no_grad():
        rnn_scan(**{k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in bfloat16_inputs().items()})
    assert calls == [(torch.bfloat16, B), *["step"] * T]
    assert linear_module._onednn_faster(torch.bfloat16, B, torch.device("cpu"))


def test_bfloat16_training_above_the_limit_runs_in_bfloat16(monkeypatch):
    """Training keeps the loop as written, in bfloat16 (not the inference loop): outputs and gradients in
    bfloat16, each within 2% of its largest element of the float32 scan's of the same numbers."""
    monkeypatch.setattr(rnn_module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)
    calls = spy_on_prepacked_linear(monkeypatch)
    low = bfloat16_inputs()
    tensors = {k: v for k, v in low.items() if isinstance(v, torch.Tensor)}
    up = {**low, **{k: v.detach().float().requires_grad_(v.requires_grad) for k, v in tensors.items()}}
    got, want = rnn_scan(**low), rnn_scan(**up)
    leaves = [k for k, v in low.items() if isinstance(v, torch.Tensor) and v.requires_grad]
    got = [*got, *torch.autograd.grad(sum(out.float().sum() for out in got), [low[k] for k in leaves])]
    want = [*want, *torch.autograd.grad(sum(out.sum() for out in want), [up[k] for k in leaves])]
    assert calls == [] and all(g.dtype == torch.bfloat16 for g in got)
    for g, w in zip(got, want, strict=True):
        assert (g.float() - w).abs().max() <= 0.02 * w.abs().max()


def test_bfloat16_large_weight_runs_in_bfloat16_at_one_row(monkeypatch):
    """A weight whose float32 copy would not fit the cache takes the bfloat16 loop even for one row."""
    one_row = {k: v.detach()[..., :1, :] if k in ("xp", "h0", "keep", "recurrent_mask") else v
               for k, v in bfloat16_inputs().items()}
    seen = []
    forward = rnn_module._forward
    monkeypatch.setattr(rnn_module, "_forward", lambda xp, *a, **k: seen.append(xp.dtype) or forward(xp, *a, **k))
    calls = spy_on_prepacked_linear(monkeypatch)
    numel = one_row["weight_hh"].numel()
    for limit, loop_dtype in ((numel + 1, torch.float32), (numel, torch.bfloat16)):
        monkeypatch.setattr(linear_module, "BFLOAT16_LARGE_WEIGHT", limit)
        seen.clear()
        calls.clear()
        with torch.no_grad():
            got = rnn_scan(**one_row)
        assert seen == [loop_dtype]
    assert calls[0] == (torch.bfloat16, 1)
    assert linear_module._onednn_faster(torch.bfloat16, 1, torch.device("cpu"), numel)
    with torch.no_grad():
        want = rnn_scan(**{k: v.float() if isinstance(v, torch.Tensor) else v for k, v in one_row.items()})
    shared.assert_all_close([g.float() for g in got], list(want), atol=0.05)


def spy_on_prepacked_linear(monkeypatch) -> list:
    """Record each ``prepacked_linear(weight, rows)`` of the kernel as ``(weight.dtype, rows)`` and each call of
    the product it returns as "step"."""
    calls = []
    real = rnn_module.prepacked_linear

    def spy(weight, rows, *args):
        calls.append((weight.dtype, rows))
        product = real(weight, rows, *args)
        return lambda *a, **k: calls.append("step") or product(*a, **k)

    monkeypatch.setattr(rnn_module, "prepacked_linear", spy)
    return calls
