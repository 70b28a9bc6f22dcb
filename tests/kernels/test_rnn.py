"""rnn_scan against autograd through the plainly written RNN step, and against torch.nn.RNN."""

import functools
import itertools

import pytest
import torch
import torch.nn.functional as F

import rnnkit.kernels.rnn as rnn_module
from rnnkit.kernels.rnn import rnn_scan
from rnnkit.kernels.transition import Transition
from tests.kernels import conftest as shared

T, B, I, H = 5, 3, 4, 6


def reference(xp, h0, weight_hh, nonlinearity, keep=None, recurrent_mask=None, transition=None):
    """The RNN step equations of the module docstring, differentiated by autograd."""
    act = torch.tanh if nonlinearity == "tanh" else torch.relu
    h, ys = h0, []
    for t in range(xp.shape[0]):
        h_in = h if recurrent_mask is None else h * recurrent_mask
        if transition is not None:
            h_in = shared.transition_reference(transition, h_in)  # h'_{t-1}
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


def kernel(xp, h0, w, nonlinearity, keep, recurrent_mask, transition=None):
    return rnn_scan(
        xp, h0, w, nonlinearity=nonlinearity, keep=keep, recurrent_mask=recurrent_mask, transition=transition
    )


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
    xp, h0, w, k, m = inputs(torch.bfloat16, keep, mask)
    low = {"xp": xp, "h0": h0, "weight_hh": w, "nonlinearity": nonlinearity, "keep": k, "recurrent_mask": m}
    shared.assert_bfloat16_loop_close_to_float32(rnn_module, rnn_scan, low, monkeypatch)


def test_bfloat16_loop_takes_the_packed_bfloat16_product(monkeypatch):
    bias = shared.assert_bfloat16_loop_takes_the_packed_product(rnn_module, rnn_scan, bfloat16_inputs(), monkeypatch)
    assert bias is None


def test_bfloat16_training_above_the_limit_runs_in_bfloat16(monkeypatch):
    shared.assert_bfloat16_training_runs_in_bfloat16(rnn_module, rnn_scan, bfloat16_inputs(), monkeypatch)


def test_bfloat16_large_weight_runs_in_bfloat16_at_one_row(monkeypatch):
    low = bfloat16_inputs()
    shared.assert_large_bfloat16_weight_runs_in_bfloat16_at_one_row(rnn_module, rnn_scan, low, monkeypatch)


# The deep transition (rnnkit.kernels.transition) inside the scan: DeepTransition around an RNNCell.


def transition_inputs(dtype, keep, mask, form, *, steps=T, batch=B):
    """Random arguments of rnn_scan with a random transition of the ``(depth, skip, activation)`` form."""
    g = torch.Generator().manual_seed(5)
    xp, h0 = shared.random(g, dtype, steps, batch, H), shared.random(g, dtype, batch, H)
    w = shared.random(g, dtype, H, H, scale=0.5)
    k, m = shared.masks(g, dtype, keep, mask, steps, batch, H)
    transition = shared.random_transition(g, dtype, form, H)
    return {"xp": xp, "h0": h0, "weight_hh": w, "keep": k, "recurrent_mask": m}, transition


def layer_tensors(transition: Transition) -> list[torch.Tensor]:
    return [t for t in transition.tensors() if t is not None]


def transition_outputs_and_grads(fn, nonlinearity, args, transition, leaves=None):
    """Outputs and the gradients of the differentiable inputs, the transition's weights and biases included."""
    xp, h0, w, k, m = (args[name] for name in ("xp", "h0", "weight_hh", "keep", "recurrent_mask"))
    ys, h_T = fn(xp, h0, w, nonlinearity, k, m, transition)
    if leaves is None:
        leaves = [args["xp"], args["h0"], args["weight_hh"], *layer_tensors(transition)]
    return shared.outputs_and_grads(ys, h_T, leaves)


@pytest.mark.parametrize("form", shared.FORMS, ids=shared.form_id)
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("keep,mask", [(None, False), ("full", True), ("lengths", True)])
def test_transition_matches_autograd_float64(form, nonlinearity, keep, mask):
    args, transition = transition_inputs(torch.float64, keep, mask, form)
    got = transition_outputs_and_grads(kernel, nonlinearity, args, transition)
    want = transition_outputs_and_grads(reference, nonlinearity, args, transition)
    assert len(got) == 5 + 2 * form[0]
    shared.assert_all_close(got, want)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_transition_gradcheck(nonlinearity):
    args, transition = transition_inputs(torch.float64, "full", True, (2, True, "tanh"), steps=3, batch=2)
    inputs = [args["xp"], args["h0"], args["weight_hh"]]

    def fn(xp, h0, w, *layers):
        return rnn_scan(xp, h0, w, nonlinearity=nonlinearity, keep=args["keep"], recurrent_mask=args["recurrent_mask"],
                        transition=transition.with_tensors(list(layers)))  # fmt: skip

    assert torch.autograd.gradcheck(fn, [*inputs, *transition.tensors()])


def test_transition_single_step():
    """T = 1: the first layer's weight gradient comes from h_0 alone."""
    args, transition = transition_inputs(torch.float64, "full", True, (2, True, "sigmoid"), steps=1)
    got = transition_outputs_and_grads(kernel, "tanh", args, transition)
    shared.assert_all_close(got, transition_outputs_and_grads(reference, "tanh", args, transition))


def test_transition_alone_requiring_grad_gets_its_gradients():
    """The scan records for backward when only the transition's weights require grad."""
    args, transition = transition_inputs(torch.float64, None, True, (2, False, "tanh"))
    args = shared.detached(args)
    got = transition_outputs_and_grads(kernel, "relu", args, transition, layer_tensors(transition))
    want = transition_outputs_and_grads(reference, "relu", args, transition, layer_tensors(transition))
    assert len(got) == 6 and all(g.abs().sum() > 0 for g in got[2:])
    shared.assert_all_close(got, want)


def test_transition_without_biases():
    args, transition = transition_inputs(torch.float64, "full", False, (2, True, "relu"))
    transition = Transition(transition.weights, (None, None), "relu", True)
    got = transition_outputs_and_grads(kernel, "tanh", args, transition)
    shared.assert_all_close(got, transition_outputs_and_grads(reference, "tanh", args, transition))


@pytest.mark.parametrize("keep", [None, "full"])
def test_transition_inference_equals_training_and_saves_nothing(keep, monkeypatch):
    """Inference keeps one scratch row a layer (save=False) and gives bit for bit what training gives."""
    args, transition = transition_inputs(torch.float32, keep, True, (2, True, "tanh"))
    calls = shared.spy_on_transition_forward(monkeypatch, rnn_module)
    shared.assert_inference_equals_training(rnn_scan, **args, transition=transition)
    assert calls == [(True, None), (False, None)]


def test_transition_float32_close_to_float64():
    args64, transition64 = transition_inputs(torch.float64, "full", True, (2, True, "tanh"))
    args32, transition32 = transition_inputs(torch.float32, "full", True, (2, True, "tanh"))
    got = transition_outputs_and_grads(kernel, "tanh", args32, transition32)
    want = transition_outputs_and_grads(kernel, "tanh", args64, transition64)
    assert all(g.dtype == torch.float32 for g in got)
    shared.assert_all_close(got, want, rtol=1e-5, atol=1e-5)


def transition_scan(w1, b1, w2, b2, *, form, **inputs):
    """rnn_scan with a two-layer transition of these tensors (the form's activation and skip)."""
    return rnn_scan(**inputs, transition=Transition((w1, w2), (b1, b2), form[2], form[1]))


def bfloat16_transition_inputs(form, keep="full", mask=True) -> dict:
    args, transition = transition_inputs(torch.bfloat16, keep, mask, form)
    w1, w2, b1, b2 = *transition.weights, *transition.biases
    return {**args, "nonlinearity": "tanh", "w1": w1, "b1": b1, "w2": w2, "b2": b2}


BFLOAT16_FORMS = [(2, True, "tanh"), (2, False, "relu"), (2, False, "sigmoid")]


@pytest.mark.parametrize("form", BFLOAT16_FORMS, ids=shared.form_id)
def test_transition_bfloat16_inference_close_to_float32(form, monkeypatch):
    """The bfloat16 inference loop runs the transition's activation in float32, and stays close to the float32
    scan of the same numbers (each product rounds its result to bfloat16)."""
    calls = shared.spy_on_transition_forward(monkeypatch, rnn_module)
    scan = functools.partial(transition_scan, form=form)
    shared.assert_bfloat16_loop_close_to_float32(rnn_module, scan, bfloat16_transition_inputs(form), monkeypatch)
    assert calls == [(False, torch.float32), (False, None)]  # the bfloat16 loop, then the float32 scan


def test_transition_bfloat16_rule_and_rounding(monkeypatch):
    """The transition leaves the bfloat16 rule as it is: a small product runs in float32, rounded once."""
    scan = functools.partial(transition_scan, form=(2, True, "tanh"))
    inputs = bfloat16_transition_inputs((2, True, "tanh"))
    shared.assert_bfloat16_is_float32_rounded(scan, inputs)
    shared.assert_bfloat16_rule(rnn_module, scan, shared.detached(inputs), monkeypatch)  # moves the limit


def test_transition_bfloat16_training_above_the_limit_runs_in_bfloat16(monkeypatch):
    scan = functools.partial(transition_scan, form=(2, True, "tanh"))
    inputs = bfloat16_transition_inputs((2, True, "tanh"))
    shared.assert_bfloat16_training_runs_in_bfloat16(rnn_module, scan, inputs, monkeypatch)


def test_transition_bfloat16_large_weight_at_one_row(monkeypatch):
    scan = functools.partial(transition_scan, form=(2, True, "tanh"))
    inputs = bfloat16_transition_inputs((2, True, "tanh"))
    shared.assert_large_bfloat16_weight_runs_in_bfloat16_at_one_row(rnn_module, scan, inputs, monkeypatch)


@pytest.mark.parametrize(
    "change,message,error",
    [
        (lambda t: t.with_tensors([t.weights[0].double(), t.biases[0]]), r"transition\[0\]", TypeError),
        (lambda t: t.with_tensors([t.weights[0][:, :2], t.biases[0]]), r"transition weight 1 must be", ValueError),
        (lambda t: Transition(t.weights, t.biases, "gelu"), "activation must be one of", ValueError),
    ],
)
def test_bad_transition_is_named(change, message, error):
    args, transition = transition_inputs(torch.float32, None, False, (1, False, "tanh"))
    with pytest.raises(error, match=f"rnn_scan: .*{message}"):
        rnn_scan(**args, transition=change(transition))
