"""lstm_scan against the step equations run through autograd, gradcheck, inference, float32, bfloat16."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

import rnnkit.kernels.lstm as lstm_module
from rnnkit.kernels.lstm import lstm_scan
from rnnkit.kernels.transition import Transition
from tests.kernels import conftest as shared

OPTIONS = ("peephole", "ln_gates", "ln_cell", "keep", "recurrent_mask")
COMBOS = [dict(zip(OPTIONS, flags)) for flags in itertools.product((False, True), repeat=len(OPTIONS))]


def combo_id(combo: dict[str, bool]) -> str:
    return "+".join(name for name, on in combo.items() if on) or "plain"


def make_inputs(T, B, H, combo, *, dtype=torch.float64, keep_width=None, seed=0, transition=None):
    """Random arguments for lstm_scan; differentiable ones require grad. ``transition`` is a
    ``(depth, skip, activation)`` form for a random deep transition."""
    gen = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).to(dtype).requires_grad_()

    def bits(*shape, p):
        return (torch.rand(*shape, generator=gen, dtype=torch.float64) < p).to(dtype)

    args = {"xp": rand(T, B, 4 * H), "h0": rand(B, H, scale=0.5), "c0": rand(B, H), "weight_hh": rand(4 * H, H, scale=0.5)}
    kwargs = {}
    if combo["peephole"]:
        kwargs |= {"weight_ci": rand(H), "weight_cf": rand(H), "weight_co": rand(H)}
    if combo["ln_gates"]:
        kwargs |= {"ln_gates_weight": rand(4 * H, scale=0.3), "ln_gates_bias": rand(4 * H, scale=0.3)}
        kwargs["ln_gates_weight"].data += 1
    if combo["ln_cell"]:
        kwargs |= {"ln_cell_weight": rand(H, scale=0.3), "ln_cell_bias": rand(H, scale=0.3)}
        kwargs["ln_cell_weight"].data += 1
    if combo["keep"]:
        kwargs["keep_h"] = bits(T, B, keep_width or H, p=0.3)
        kwargs["keep_c"] = bits(T, B, keep_width or H, p=0.3)
    if combo["recurrent_mask"]:
        kwargs["recurrent_mask"] = bits(B, H, p=0.7) / 0.7
    if transition is not None:
        depth, skip, activation = transition
        layers = [(rand(H, H, scale=0.6), rand(H, scale=0.3)) for _ in range(depth)]
        kwargs["transition"] = Transition(tuple(w for w, _ in layers), tuple(b for _, b in layers), activation, skip)
    return args, kwargs


def differentiable(args, kwargs):
    """The inputs that require grad, a transition's weights and biases included."""
    values = [*args.values(), *kwargs.values()]
    tensors = [t for v in values for t in (v.tensors() if isinstance(v, Transition) else [v])]
    return [t for t in tensors if t is not None and t.requires_grad]


def reference(xp, h0, c0, weight_hh, *, weight_ci=None, weight_cf=None, weight_co=None, ln_gates_weight=None,
              ln_gates_bias=None, ln_cell_weight=None, ln_cell_bias=None, ln_eps=1e-5, keep_h=None, keep_c=None,
              recurrent_mask=None, transition=None):  # fmt: skip
    """The step equations of the contract, written plainly and differentiated by autograd."""
    H = h0.shape[1]
    h, c, ys = h0, c0, []
    for t, xp_t in enumerate(xp.unbind(0)):
        h_in = h * recurrent_mask if recurrent_mask is not None else h
        if transition is not None:  # h' = u_L, or u_0 + u_L with skip
            phi = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[transition.activation]
            u = h_in
            for W_k, b_k in zip(transition.weights, transition.biases):
                u = phi(u @ W_k.T + (b_k if b_k is not None else 0))
            h_in = h_in + u if transition.skip else u
        a = xp_t + h_in @ weight_hh.T
        if ln_gates_weight is not None:
            blocks = [F.layer_norm(block, (H,), eps=ln_eps) for block in a.chunk(4, -1)]
            a = torch.cat(blocks, -1) * ln_gates_weight + ln_gates_bias
        a_i, a_f, a_g, a_o = a.chunk(4, -1)
        i = torch.sigmoid(a_i + (weight_ci * c if weight_ci is not None else 0))
        f = torch.sigmoid(a_f + (weight_cf * c if weight_cf is not None else 0))
        g = torch.tanh(a_g)
        c_tilde = f * c + i * g
        o = torch.sigmoid(a_o + (weight_co * c_tilde if weight_co is not None else 0))
        n = c_tilde
        if ln_cell_weight is not None:
            n = F.layer_norm(c_tilde, (H,), ln_cell_weight, ln_cell_bias, ln_eps)
        h_tilde = o * torch.tanh(n)
        c = keep_c[t] * c + (1 - keep_c[t]) * c_tilde if keep_c is not None else c_tilde
        h = keep_h[t] * h + (1 - keep_h[t]) * h_tilde if keep_h is not None else h_tilde
        ys.append(h)
    return torch.stack(ys), h, c


def outputs_and_grads(fn, args, kwargs, seed=1):
    """Outputs of fn and the gradients of a random linear loss of all three outputs w.r.t. every input."""
    ys, h, c = fn(**args, **kwargs)
    gen = torch.Generator().manual_seed(seed)
    weights = [torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x.dtype) for x in (ys, h, c)]
    loss = sum((x * w).sum() for x, w in zip((ys, h, c), weights))
    grads = torch.autograd.grad(loss, differentiable(args, kwargs))
    return (ys, h, c), grads


def assert_matches_reference(args, kwargs):
    """lstm_scan's outputs and gradients equal those of the autograd reference to 1e-10."""
    outs, grads = outputs_and_grads(lstm_scan, args, kwargs)
    ref_outs, ref_grads = outputs_and_grads(reference, args, kwargs)
    for got, want in zip((*outs, *grads), (*ref_outs, *ref_grads), strict=True):
        assert got.shape == want.shape
        assert torch.allclose(got, want, rtol=0, atol=1e-10), (got - want).abs().max()


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
def test_matches_autograd_reference_float64(combo):
    assert_matches_reference(*make_inputs(6, 3, 5, combo))


@pytest.mark.parametrize("combo", COMBOS, ids=combo_id)
def test_gradcheck(combo):
    args, kwargs = make_inputs(3, 2, 3, combo, seed=2)
    names = [k for k, v in {**args, **kwargs}.items() if v.requires_grad]
    fixed = {k: v for k, v in kwargs.items() if not v.requires_grad}

    def fn(*tensors):
        return lstm_scan(*tensors[:4], **dict(zip(names[4:], tensors[4:])), **fixed)

    assert torch.autograd.gradcheck(fn, [*args.values(), *(kwargs[k] for k in names[4:])])


@pytest.mark.parametrize("combo", [COMBOS[0], COMBOS[-1]], ids=combo_id)
def test_backward_in_chunks_of_steps(combo, monkeypatch):
    """Factors computed two steps at a time (7 steps: three chunks and a remainder) give the same gradients."""
    T, B, H = 7, 3, 4
    monkeypatch.setattr(lstm_module, "_CHUNK_ELEMENTS", 2 * B * H)
    args, kwargs = make_inputs(T, B, H, combo, seed=7)
    assert_matches_reference(args, kwargs)


@pytest.mark.parametrize("combo", [COMBOS[0], COMBOS[-1]], ids=combo_id)
def test_single_step_and_strided_input(combo):
    """T = 1 (h_0 alone feeds dW_hh), and xp given batch-first then transposed (not contiguous)."""
    for T in (1, 4):
        args, kwargs = make_inputs(T, 3, 4, combo, seed=11)
        batch_first = args["xp"].detach().transpose(0, 1).contiguous().requires_grad_()  # (B, T, 4H)
        args["xp"] = batch_first.transpose(0, 1)  # (T, B, 4H), strided
        assert_matches_reference(args, kwargs)


def test_keep_masks_broadcast_over_units():
    combo = dict.fromkeys(OPTIONS, True)
    args, kwargs = make_inputs(5, 4, 3, combo, keep_width=1, seed=3)
    assert_matches_reference(args, kwargs)


@pytest.mark.parametrize("combo", [COMBOS[0], COMBOS[-1]], ids=combo_id)
def test_inference_equals_training_path(combo):
    args, kwargs = make_inputs(7, 3, 4, combo, dtype=torch.float32, seed=4)
    trained = lstm_scan(**args, **kwargs)
    with torch.no_grad():
        inferred = lstm_scan(**args, **kwargs)
    for got, want in zip(inferred, trained):
        assert not got.requires_grad
        assert torch.equal(got, want.detach())


def test_final_state_may_be_modified_in_place():
    """h_T and c_T are tensors of their own; ys is saved for backward, so autograd guards it like sigmoid's output."""
    args, kwargs = make_inputs(4, 2, 3, COMBOS[-1], seed=10)
    ys, h, c = lstm_scan(**args, **kwargs)
    want = torch.autograd.grad(ys.sum() + (h * 2).sum() + (c * 3).sum(), list(args.values()))
    ys, h, c = lstm_scan(**args, **kwargs)
    h.mul_(2)
    c.mul_(3)
    got = torch.autograd.grad(ys.sum() + h.sum() + c.sum(), list(args.values()))
    for x, y in zip(got, want):
        assert torch.allclose(x, y, rtol=0, atol=1e-12)
    ys, h, c = lstm_scan(**args, **kwargs)
    ys.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch.autograd.grad(ys.sum(), list(args.values()))


def test_inference_saves_nothing():
    args, kwargs = make_inputs(4, 2, 3, COMBOS[-1], dtype=torch.float32)
    detached = {k: v.detach() for k, v in {**args, **kwargs}.items()}
    ys, h, c = lstm_scan(**detached)
    assert ys.grad_fn is None and h.grad_fn is None and c.grad_fn is None


def as_float32(args, kwargs):
    """The arguments as new float32 leaves, requiring grad as the originals do."""

    def up(v):
        if isinstance(v, Transition):
            return v.with_tensors([up(t) if t is not None else None for t in v.tensors()])
        return v.detach().float().requires_grad_(v.requires_grad)

    return {k: up(v) for k, v in args.items()}, {k: up(v) for k, v in kwargs.items()}


@pytest.mark.parametrize("combo", [COMBOS[0], COMBOS[-1]], ids=combo_id)
def test_float32_close_to_float64(combo):
    args, kwargs = make_inputs(20, 8, 16, combo, seed=5)
    outs64, grads64 = outputs_and_grads(lstm_scan, args, kwargs)
    args32, kwargs32 = as_float32(args, kwargs)
    outs32, grads32 = outputs_and_grads(lstm_scan, args32, kwargs32)
    for got, want in zip((*outs32, *grads32), (*outs64, *grads64)):
        assert got.dtype == torch.float32
        scale = max(1.0, want.abs().max().item())
        assert (got.double() - want).abs().max().item() <= 1e-5 * scale


@pytest.mark.parametrize("combo", [COMBOS[0], COMBOS[-1]], ids=combo_id)
def test_bfloat16_inference_close_to_float32(combo, monkeypatch):
    monkeypatch.setattr(lstm_module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)  # the bfloat16 loop itself
    args, kwargs = make_inputs(12, 8, 16, combo, dtype=torch.bfloat16, seed=8)
    bf16 = {k: v.detach() for k, v in {**args, **kwargs}.items()}
    with torch.no_grad():
        got = lstm_scan(**bf16)
        want = lstm_scan(**{k: v.float() for k, v in bf16.items()})
    for x, y in zip(got, want):
        assert x.dtype == torch.bfloat16
        assert (x.float() - y).abs().max().item() < 0.05


def test_bfloat16_training_runs_in_float32():
    args, kwargs = make_inputs(5, 2, 3, COMBOS[-1], dtype=torch.bfloat16, seed=9)
    outs, grads = outputs_and_grads(lstm_scan, args, kwargs)
    args32, kwargs32 = as_float32(args, kwargs)
    outs32, grads32 = outputs_and_grads(lstm_scan, args32, kwargs32)
    for got, want in zip(outs, outs32):
        assert got.dtype == torch.bfloat16
        assert torch.equal(got, want.bfloat16())
    # The loss weights differ by their rounding to bfloat16, hence a tolerance on the gradients.
    for got, want in zip(grads, grads32):
        assert got.dtype == torch.bfloat16
        assert torch.allclose(got.float(), want, rtol=0.02, atol=0.02 * want.abs().max().item())


@pytest.mark.parametrize("combo", [COMBOS[0], COMBOS[-1]], ids=combo_id)
def test_bfloat16_inference_runs_in_float32_up_to_its_limit(combo, monkeypatch):
    args, kwargs = make_inputs(5, 2, 3, combo, dtype=torch.bfloat16, seed=10)
    shared.assert_bfloat16_rule(lstm_module, lstm_scan, {**args, **kwargs}, monkeypatch)


@pytest.mark.parametrize("combo", [COMBOS[0], COMBOS[-1]], ids=combo_id)
def test_bfloat16_large_weight_runs_in_bfloat16_at_one_row(combo, monkeypatch):
    args, kwargs = make_inputs(5, 2, 3, combo, dtype=torch.bfloat16, seed=12)
    shared.assert_large_bfloat16_weight_runs_in_bfloat16_at_one_row(lstm_module, lstm_scan, {**args, **kwargs}, monkeypatch)


@pytest.mark.parametrize("combo", [COMBOS[0], COMBOS[-1]], ids=combo_id)
def test_bfloat16_small_product_is_float32_rounded(combo):
    args, kwargs = make_inputs(5, 2, 3, combo, dtype=torch.bfloat16, seed=11)
    shared.assert_bfloat16_is_float32_rounded(lstm_scan, {**args, **kwargs})


def test_mixed_dtypes_are_rejected():
    args, kwargs = make_inputs(4, 2, 3, COMBOS[0], dtype=torch.float32)
    args["c0"] = args["c0"].double()
    with pytest.raises(TypeError, match="c0"):
        lstm_scan(**args, **kwargs)


def test_matches_torch_nn_lstm():
    torch.manual_seed(6)
    T, B, I, H = 5, 3, 4, 6
    lstm = torch.nn.LSTM(I, H).double()
    x = torch.randn(T, B, I, dtype=torch.float64)
    h0, c0 = torch.randn(1, B, H, dtype=torch.float64), torch.randn(1, B, H, dtype=torch.float64)
    want, (h_want, c_want) = lstm(x, (h0, c0))
    xp = x @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + lstm.bias_hh_l0
    ys, h, c = lstm_scan(xp, h0[0], c0[0], lstm.weight_hh_l0)
    assert torch.allclose(ys, want, atol=1e-12)
    assert torch.allclose(h, h_want[0], atol=1e-12) and torch.allclose(c, c_want[0], atol=1e-12)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a, k: a.update(xp=a["xp"][..., :-1]), "xp"),
        (lambda a, k: a.update(c0=a["c0"][:, :-1]), "c0"),
        (lambda a, k: a.update(weight_hh=a["weight_hh"][:, :-1]), "weight_hh"),
        (lambda a, k: k.update(weight_ci=torch.zeros(2)), "weight_ci"),
        (lambda a, k: k.update(ln_cell_weight=torch.ones(3)), "ln_cell_weight and ln_cell_bias"),
        (lambda a, k: k.update(keep_h=torch.zeros(4, 2, 2)), "keep_h"),
        (lambda a, k: k.update(recurrent_mask=torch.ones(2, 1)), "recurrent_mask"),
    ],
)
def test_bad_shapes_are_named(change, message):
    args, kwargs = make_inputs(4, 2, 3, COMBOS[0], dtype=torch.float32)
    change(args, kwargs)
    with pytest.raises(ValueError, match=message):
        lstm_scan(**args, **kwargs)


# The deep transition (rnnkit.kernels.transition) inside the scan: the shared (depth, skip, activation)
# forms, and the option combinations they run with (none, each alone, all).
FORMS, form_id = shared.FORMS, shared.form_id
FEW_COMBOS = [COMBOS[0], *(COMBOS[1 << k] for k in range(len(OPTIONS))), COMBOS[-1]]


@pytest.mark.parametrize("form", FORMS, ids=form_id)
@pytest.mark.parametrize("combo", FEW_COMBOS, ids=combo_id)
def test_transition_matches_autograd_reference_float64(form, combo):
    assert_matches_reference(*make_inputs(6, 3, 5, combo, transition=form, seed=12))


@pytest.mark.parametrize("combo", [COMBOS[0], COMBOS[-1]], ids=combo_id)
def test_transition_gradcheck(combo):
    args, kwargs = make_inputs(3, 2, 3, combo, transition=(2, True, "tanh"), seed=13)
    transition = kwargs.pop("transition")
    inputs = differentiable(args, kwargs)
    layers = transition.tensors()

    def fn(*tensors):
        given = dict(zip([k for k, v in {**args, **kwargs}.items() if v.requires_grad], tensors))
        fixed = {k: v for k, v in kwargs.items() if not v.requires_grad}
        return lstm_scan(**given, **fixed, transition=transition.with_tensors(list(tensors[len(inputs) :])))

    assert torch.autograd.gradcheck(fn, [*inputs, *layers])


@pytest.mark.parametrize("combo", [COMBOS[0], COMBOS[-1]], ids=combo_id)
def test_transition_backward_in_chunks_of_steps(combo, monkeypatch):
    T, B, H = 7, 3, 4
    monkeypatch.setattr(lstm_module, "_CHUNK_ELEMENTS", 2 * B * H)
    assert_matches_reference(*make_inputs(T, B, H, combo, transition=(2, True, "sigmoid"), seed=14))


def test_transition_single_step():
    """T = 1: the first layer's weight gradient comes from h_0 alone."""
    assert_matches_reference(*make_inputs(1, 3, 4, COMBOS[-1], transition=(2, True, "tanh"), seed=21))


def test_transition_alone_requiring_grad_gets_its_gradients():
    """The scan records for backward when only the transition's weights require grad."""
    args, kwargs = make_inputs(5, 2, 3, COMBOS[-1], transition=(2, False, "tanh"), seed=15)
    args = {k: v.detach() for k, v in args.items()}
    kwargs = {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    assert_matches_reference(args, kwargs)
    _, grads = outputs_and_grads(lstm_scan, args, kwargs)
    assert len(grads) == 4 and all(g.abs().sum() > 0 for g in grads)


def test_transition_without_biases():
    args, kwargs = make_inputs(5, 2, 3, COMBOS[0], transition=(2, True, "relu"), seed=16)
    transition = kwargs["transition"]
    kwargs["transition"] = Transition(transition.weights, (None, None), "relu", True)
    assert_matches_reference(args, kwargs)


@pytest.mark.parametrize("combo", [COMBOS[0], COMBOS[-1]], ids=combo_id)
def test_transition_inference_equals_training_and_keeps_one_row(combo, monkeypatch):
    args, kwargs = make_inputs(7, 3, 4, combo, dtype=torch.float32, seed=17, transition=(2, True, "tanh"))
    saves = shared.spy_on_transition_forward(monkeypatch, lstm_module)
    trained = lstm_scan(**args, **kwargs)
    with torch.no_grad():
        inferred = lstm_scan(**args, **kwargs)
    assert saves == [(True, torch.float32), (False, torch.float32)]
    for got, want in zip(inferred, trained):
        assert got.grad_fn is None
        assert torch.equal(got, want.detach())


def test_transition_float32_close_to_float64():
    args, kwargs = make_inputs(20, 8, 16, COMBOS[-1], seed=18, transition=(2, True, "tanh"))
    outs64, grads64 = outputs_and_grads(lstm_scan, args, kwargs)
    outs32, grads32 = outputs_and_grads(lstm_scan, *as_float32(args, kwargs))
    assert len(grads32) == len(grads64) == 15
    for got, want in zip((*outs32, *grads32), (*outs64, *grads64)):
        assert got.dtype == torch.float32
        assert (got.double() - want).abs().max().item() <= 1e-5 * max(1.0, want.abs().max().item())


@pytest.mark.parametrize("combo", [COMBOS[0], COMBOS[-1]], ids=combo_id)
def test_transition_bfloat16_inference_close_to_float32(combo, monkeypatch):
    """The bfloat16 inference loop runs the transition's activation in float32, as its gates, and stays close to
    the float32 scan of the same numbers."""
    monkeypatch.setattr(lstm_module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)  # the bfloat16 loop itself
    calls = shared.spy_on_transition_forward(monkeypatch, lstm_module)
    args, kwargs = make_inputs(4, 8, 16, combo, dtype=torch.bfloat16, seed=19, transition=(2, True, "tanh"))
    args32, kwargs32 = as_float32(args, kwargs)
    with torch.no_grad():
        got = lstm_scan(**args, **kwargs)
        want = lstm_scan(**args32, **kwargs32)
    assert calls == [(False, torch.float32), (False, torch.float32)]  # the bfloat16 loop, then the float32 scan
    # Each step's products round their inputs and the transition's pre-activations to bfloat16: errors of
    # about 0.4% of the outputs' scale after one step, 1% after 4 (at most 2.5% over 20 seeds); they grow
    # fast with the steps (after 12, 2-6% and up to 25% depending on the seed), so the scan is short
    for x, y in zip(got, want):
        assert x.dtype == torch.bfloat16
        assert (x.float() - y).abs().max().item() < 0.03 * max(1.0, y.abs().max().item())


def test_transition_bfloat16_rule_and_rounding(monkeypatch):
    args, kwargs = make_inputs(5, 2, 3, COMBOS[-1], dtype=torch.bfloat16, seed=20, transition=(1, False, "relu"))
    transition = kwargs.pop("transition")
    layers = dict(zip(("w1", "b1"), transition.tensors()))

    def scan(w1, b1, **inputs):
        return lstm_scan(**inputs, transition=transition.with_tensors([w1, b1]))

    shared.assert_bfloat16_rule(lstm_module, lambda **a: scan(**a), {**args, **kwargs, **layers}, monkeypatch)
    shared.assert_bfloat16_is_float32_rounded(scan, {**args, **kwargs, **layers})


def test_transition_of_another_dtype_is_rejected():
    args, kwargs = make_inputs(4, 2, 3, COMBOS[0], dtype=torch.float32, transition=(1, False, "tanh"))
    transition = kwargs["transition"]
    kwargs["transition"] = transition.with_tensors([transition.weights[0].double(), transition.biases[0]])
    with pytest.raises(TypeError, match=r"transition\[0\]"):
        lstm_scan(**args, **kwargs)


def test_transition_of_the_wrong_size_is_named():
    args, kwargs = make_inputs(4, 2, 3, COMBOS[0], dtype=torch.float32)
    kwargs["transition"] = Transition((torch.zeros(4, 4),), (None,))
    with pytest.raises(ValueError, match=r"lstm_scan: transition weight 1 must be \(3, 3\)"):
        lstm_scan(**args, **kwargs)
