"""The deep-transition pass of the scan kernels against the same MLP differentiated by autograd, step by step."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.kernels import linear as linear_module
from rnnkit.kernels.transition import (
    Transition, TransitionBackward, TransitionForward, activation_name, check_transition,
)  # fmt: skip
from tests.kernels import conftest as shared

D = torch.float64
FORMS = [*shared.FORMS, (3, False, "relu")]


def make_transition(depth, skip, activation, R, *, bias=True, seed=0) -> Transition:
    gen = torch.Generator().manual_seed(seed)
    weights = tuple(torch.randn(R, R, generator=gen, dtype=D) * 0.6 for _ in range(depth))
    biases = tuple(torch.randn(R, generator=gen, dtype=D) * 0.3 if bias else None for _ in range(depth))
    return Transition(weights, biases, activation, skip)


def test_transitions_compare_by_identity():
    """Comparing two transitions does not compare their tensors (whose truth value is ambiguous)."""
    a = make_transition(1, False, "tanh", 3)
    b = a.with_tensors(a.tensors())
    assert a == a and a != b and len({a, b, a}) == 2


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (torch.tanh, "tanh"), (F.tanh, "tanh"), (nn.Tanh(), "tanh"),
        (torch.relu, "relu"), (F.relu, "relu"), (nn.ReLU(), "relu"), (nn.ReLU(inplace=True), "relu"),
        (torch.sigmoid, "sigmoid"), (F.sigmoid, "sigmoid"), (nn.Sigmoid(), "sigmoid"),
        (lambda u: u * 2, None), (F.softplus, None), (nn.GELU(), None), (torch.sin, None),
        (type("MyTanh", (nn.Tanh,), {})(), None),  # a subclass may compute something else
    ],
)  # fmt: skip
def test_activation_name(fn, name):
    assert activation_name(fn) == name


@pytest.mark.parametrize("form", FORMS, ids=shared.form_id)
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_steps_and_gradients_match_autograd(form, masked, bias):
    """Forward steps give the MLP's h'; backward steps and the stacked weight gradients give autograd's."""
    T, B, R, G = 4, 3, 5, 2
    transition = make_transition(*form, R, bias=bias)
    gen = torch.Generator().manual_seed(1)
    hs = torch.randn(T + 1, B, R, generator=gen, dtype=D)  # h_0 .. h_T, the kernel's state
    m = (torch.rand(B, R, generator=gen, dtype=D) < 0.7).to(D) / 0.7 if masked else None
    d_h_prime = torch.randn(T, B, R, generator=gen, dtype=D)  # delta h'_{t-1} from the recurrent product
    dys = torch.randn(T, B, R, generator=gen, dtype=D)  # dL/dy_{t-1}, step 0 has none
    d_a = torch.randn(T, B, G * R, generator=gen, dtype=D)

    forward = TransitionForward(transition, T, B, save=True)
    got_h_prime = torch.stack([forward.step(t, hs[t] * m if masked else hs[t]).clone() for t in range(T)])
    backward = TransitionBackward(transition, forward.saved())
    got_dh = [backward.step(t, d_h_prime[t].clone(), m, dys[t] if t > 0 else None) for t in range(T - 1, -1, -1)]
    got_grads = backward.grads(hs[0], hs[1:], m, (True,) * (2 * form[0]))
    got_d_w_hh = backward.recurrent_weight_grad(d_a)

    h_in = hs[:T].clone().requires_grad_()
    weights = [w.clone().requires_grad_() for w in transition.weights]
    biases = [b.clone().requires_grad_() if b is not None else None for b in transition.biases]
    h_prime = shared.transition_reference(transition.with_tensors([p for pair in zip(weights, biases) for p in pair]),
                                          h_in * m if masked else h_in)
    params = [p for pair in zip(weights, biases) for p in pair if p is not None]
    want_dh, *want_grads = torch.autograd.grad((h_prime * d_h_prime).sum(), [h_in, *params])
    want_dh[1:] += dys[1:]

    torch.testing.assert_close(got_h_prime, h_prime.detach(), rtol=0, atol=1e-12)
    torch.testing.assert_close(torch.stack(got_dh[::-1]), want_dh, rtol=0, atol=1e-12)
    assert [g is None for g in got_grads] == [p is None for pair in zip(weights, biases) for p in pair]
    for got, want in zip([g for g in got_grads if g is not None], want_grads, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    want_d_w_hh = torch.einsum("tbg,tbr->gr", d_a, h_prime.detach())  # sum_t delta a_t^T h'_{t-1}
    torch.testing.assert_close(got_d_w_hh, want_d_w_hh, rtol=0, atol=1e-12)


def test_relu_derivative_at_zero_is_zero_as_autograd():
    transition = Transition((torch.eye(2, dtype=D),), (torch.zeros(2, dtype=D),), "relu")
    u_0 = torch.tensor([[0.0, 1.0]], dtype=D)
    forward = TransitionForward(transition, 1, 1, save=True)
    forward.step(0, u_0)
    backward = TransitionBackward(transition, forward.saved())
    d_u0 = backward.step(0, torch.ones(1, 2, dtype=D), None, None)
    leaf = u_0.clone().requires_grad_()
    want = torch.autograd.grad(torch.relu(leaf).sum(), leaf)[0]
    assert torch.equal(d_u0, want) and d_u0[0, 0] == 0


def test_gradients_not_needed_are_none():
    transition = make_transition(2, False, "tanh", 3)
    forward = TransitionForward(transition, 2, 1, save=True)
    hs = torch.randn(3, 1, 3, dtype=D)
    for t in range(2):
        forward.step(t, hs[t])
    backward = TransitionBackward(transition, forward.saved())
    for t in (1, 0):
        backward.step(t, torch.ones(1, 3, dtype=D), None, None)
    grads = backward.grads(hs[0], hs[1:], None, (False, True, True, False))
    assert grads[0] is None and grads[3] is None and grads[1].shape == (3,) and grads[2].shape == (3, 3)


def test_inference_keeps_one_row_a_layer():
    transition = make_transition(2, True, "tanh", 3)
    forward = TransitionForward(transition, 50, 4, save=False)
    assert all(buf.shape == (1, 4, 3) for buf in forward.saved())
    hs = torch.randn(50, 4, 3, dtype=D)
    out = [forward.step(t, hs[t]).clone() for t in range(50)]
    torch.testing.assert_close(out[7], shared.transition_reference(transition, hs[7]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("skip", [False, True])
def test_activation_in_float32_under_bfloat16_weights(skip, monkeypatch):
    """elementwise=float32 on the oneDNN route: each product rounded to bfloat16 once, phi in float32, u_k rounded
    to bfloat16 as the next product's input, h' (with skip the float32 sum) rounded once; h' in bfloat16."""
    monkeypatch.setattr(linear_module, "onednn_bfloat16", lambda: True)
    B, R = 4, 8
    transition = make_transition(2, skip, "tanh", R)
    transition = transition.with_tensors([t.bfloat16() for t in transition.tensors()])
    forward = TransitionForward(transition, 3, B, save=False, elementwise=torch.float32)
    u_0 = torch.randn(B, R, dtype=torch.bfloat16)
    got = forward.step(0, u_0)
    u = u_0
    for W_k, b_k in zip(transition.weights, transition.biases):
        # exact in float64 (8 products of bfloat16 numbers, then the bias), rounded once, as oneDNN's accumulator
        z = (u.double() @ W_k.double().T + b_k.double()).float().bfloat16()  # (B, R)
        u = torch.tanh(z.float())
        if W_k is not transition.weights[-1]:
            u = u.bfloat16()
    want = (u_0.float() + u if skip else u).bfloat16()
    assert got.dtype == torch.bfloat16 and torch.equal(got, want)
    assert all(buf.dtype == torch.float32 for buf in forward.saved()[:2])  # phi ran on float32 rows


def test_saving_needs_the_activation_in_the_weights_dtype():
    transition = make_transition(1, False, "tanh", 3).with_tensors([torch.zeros(3, 3, dtype=torch.bfloat16), None])
    with pytest.raises(ValueError, match="saving for backward needs phi in the weights' dtype torch.bfloat16"):
        TransitionForward(transition, 2, 1, save=True, elementwise=torch.float32)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: Transition(t.weights, t.biases, "gelu"), "activation must be one of"),
        (lambda t: Transition(t.weights, t.biases[:1]), "one bias"),
        (lambda t: Transition((), ()), "at least one layer"),
        (lambda t: Transition((t.weights[0], t.weights[1][:, :2]), t.biases), r"weight 2 must be \(3, 3\)"),
        (lambda t: Transition(t.weights, (t.biases[0], torch.zeros(4, dtype=D))), r"bias 2 must be \(3,\)"),
    ],
)
def test_bad_transitions_are_named(change, message):
    transition = make_transition(2, False, "tanh", 3)
    check_transition("a_scan", transition, 3)
    with pytest.raises(ValueError, match=f"a_scan: transition .*{message}"):
        check_transition("a_scan", change(transition), 3)


def test_tensors_round_trip():
    transition = make_transition(2, True, "relu", 3, bias=False)
    tensors = transition.tensors()
    assert [t is None for t in tensors] == [False, True, False, True]
    again = transition.with_tensors(tensors)
    assert again.weights == transition.weights and again.biases == transition.biases
    assert (again.activation, again.skip) == ("relu", True)
