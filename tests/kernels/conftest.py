"""Helpers shared by the tests of the scan kernels: their masks, a loss with fixed random weights on both
outputs, a deep transition and its reference, and the properties every scan kernel has whatever its cell."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import rnnkit.kernels.linear as linear_module
from rnnkit.kernels.transition import Transition



@pytest.fixture(autouse=True)
def _python_loops_unless_native(request):
    """The tests here check the Python loops (the native ones have test_native.py, marked ``native``)."""
    if request.node.get_closest_marker("native") is None:
        request.getfixturevalue("python_loops")


Scan = Callable[..., tuple[torch.Tensor, torch.Tensor]]
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}
# Deep transitions as (depth, skip, activation): each activation, one and two layers, with and without skip.
FORMS = [(1, False, "tanh"), (1, True, "relu"), (2, False, "sigmoid"), (2, True, "tanh"), (2, True, "relu")]

# Changes to the keyword arguments xp, h0, weight_hh, keep, recurrent_mask of a scan kernel that make one
# argument's shape wrong, each with the start of the error every kernel must raise.
BAD_SHAPES = [
    (lambda a: {**a, "xp": a["xp"][0]}, "xp must be"),
    (lambda a: {**a, "h0": a["h0"][:, :-1]}, "does not match h0"),
    (lambda a: {**a, "weight_hh": a["weight_hh"][:, :-1]}, "weight_hh must be"),
    (lambda a: {**a, "keep": torch.ones(*a["xp"].shape[:2], 2)}, "keep must be"),
    (lambda a: {**a, "recurrent_mask": torch.ones(a["h0"].shape[0] + 1, a["h0"].shape[1])}, "recurrent_mask must be"),
]


def random(gen: torch.Generator, dtype: torch.dtype, *shape: int, scale: float = 1.0) -> torch.Tensor:
    """Normal samples drawn in float64 (the same numbers in every dtype), cast to ``dtype``, requiring grad."""
    return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).to(dtype).requires_grad_()


def masks(gen: torch.Generator, dtype: torch.dtype, keep: str | None, mask: bool, T: int, B: int, H: int):
    """A keep mask of the named kind ("full": random bits; "lengths": sequences of lengths T, T-2, ..., kept
    unchanged past their end; None) and, if ``mask``, an inverted-dropout recurrent mask."""
    k = None
    if keep == "full":
        k = (torch.rand(T, B, H, generator=gen) < 0.3).to(dtype)
    elif keep == "lengths":
        lengths = torch.arange(T, T - 2 * B, -2).clamp(min=1)  # (B,)
        k = (torch.arange(T)[:, None, None] >= lengths[None, :, None]).to(dtype)  # (T, B, 1): same for all units
    m = (torch.rand(B, H, generator=gen) < 0.7).to(dtype) / 0.7 if mask else None
    return k, m


def form_id(form: tuple[int, bool, str]) -> str:
    depth, skip, activation = form
    return f"{activation}-L{depth}" + ("-skip" if skip else "")


def random_transition(gen: torch.Generator, dtype: torch.dtype, form: tuple[int, bool, str], size: int) -> Transition:
    """A deep transition of the ``(depth, skip, activation)`` form with random (size, size) layers and biases,
    requiring grad."""
    depth, skip, activation = form
    layers = [(random(gen, dtype, size, size, scale=0.6), random(gen, dtype, size, scale=0.3)) for _ in range(depth)]
    return Transition(tuple(w for w, _ in layers), tuple(b for _, b in layers), activation, skip)


def transition_reference(transition: Transition, u_0: torch.Tensor) -> torch.Tensor:
    """h' from u_0 by the forward equations of :mod:`rnnkit.kernels.transition`, for autograd."""
    u = u_0
    for W_k, b_k in zip(transition.weights, transition.biases):
        u = ACTIVATIONS[transition.activation](u @ W_k.T + (b_k if b_k is not None else 0))
    return u_0 + u if transition.skip else u


def outputs_and_grads(ys: torch.Tensor, h_T: torch.Tensor, params: list[torch.Tensor]) -> list[torch.Tensor]:
    """``[ys, h_T, *grads of params]`` for a loss weighting every output element by a fixed random number."""
    gen = torch.Generator().manual_seed(2)
    loss = (ys * torch.randn(ys.shape, generator=gen, dtype=torch.float64).to(ys.dtype)).sum()
    loss = loss + (h_T * torch.randn(h_T.shape, generator=gen, dtype=torch.float64).to(ys.dtype)).sum()
    return [ys, h_T, *torch.autograd.grad(loss, params)]


def assert_all_close(got: list[torch.Tensor], want: list[torch.Tensor], *, rtol: float = 0, atol: float = 1e-10):
    """Each of ``got`` (cast to the dtype of its partner) close to its partner in ``want``."""
    assert len(got) == len(want)
    for a, e in zip(got, want):
        torch.testing.assert_close(a.to(e.dtype), e, rtol=rtol, atol=atol)


def assert_inference_equals_training(scan: Scan, *args: torch.Tensor | None, **kwargs) -> None:
    """The no-grad path records nothing and gives bit for bit what the training path gives."""
    ys, h_T = scan(*args, **kwargs)
    assert ys.grad_fn is not None
    with torch.no_grad():
        ys_inf, h_inf = scan(*args, **kwargs)
    assert ys_inf.grad_fn is None
    assert torch.equal(ys_inf, ys.detach()) and torch.equal(h_inf, h_T.detach())


def assert_no_grad_input_records_nothing(scan: Scan, *args: torch.Tensor | None) -> None:
    """With grad mode on but no input requiring grad, the outputs have no autograd history."""
    ys, h_T = scan(*(a.detach() if a is not None else None for a in args))
    assert ys.grad_fn is None and h_T.grad_fn is None


def assert_outputs_are_tensors_of_their_own(scan: Scan, *args: torch.Tensor | None) -> None:
    """ys may be modified in place, as torch.nn's outputs may; h_T does not share its memory."""
    ys, h_T = scan(*args)
    h_before = h_T.detach().clone()
    ys.mul_(2)
    assert torch.equal(h_T.detach(), h_before)


def assert_bfloat16_rule(module, scan: Scan, inputs: dict, monkeypatch) -> None:
    """A kernel's bfloat16 rule, at its boundary: with at most ``module.BFLOAT16_IN_FLOAT32_PRODUCTS``
    multiply-adds a step (batch x elements of ``weight_hh``) the loop runs in float32, with one fewer allowed it
    runs in bfloat16; the outputs are bfloat16 either way. ``inputs`` are bfloat16 keyword arguments."""
    products = inputs["xp"].shape[1] * inputs["weight_hh"].numel()
    seen = []
    forward = module._forward
    monkeypatch.setattr(module, "_forward", lambda xp, *a, **k: seen.append(xp.dtype) or forward(xp, *a, **k))
    for limit, loop_dtype in ((products, torch.float32), (products - 1, torch.bfloat16)):
        monkeypatch.setattr(module, "BFLOAT16_IN_FLOAT32_PRODUCTS", limit)
        seen.clear()
        with torch.no_grad():
            outputs = scan(**inputs)
        assert seen == [loop_dtype]
        assert all(out.dtype == torch.bfloat16 for out in outputs)


def assert_bfloat16_is_float32_rounded(scan: Scan, inputs: dict) -> None:
    """A bfloat16 scan run in float32 gives bit for bit the float32 scan's outputs and gradients, rounded to
    bfloat16. ``inputs`` are bfloat16 keyword arguments, the differentiable ones requiring grad."""
    up = as_float32(inputs)
    outs, outs32 = scan(**inputs), scan(**up)
    gen = torch.Generator().manual_seed(3)
    weights = [torch.randn(out.shape, generator=gen).bfloat16() for out in outs]
    leaves = [v for v in inputs.values() if isinstance(v, torch.Tensor) and v.requires_grad]
    leaves32 = [v for v in up.values() if isinstance(v, torch.Tensor) and v.requires_grad]
    grads = torch.autograd.grad(sum((out * w).sum() for out, w in zip(outs, weights)), leaves)
    grads32 = torch.autograd.grad(sum((out * w.float()).sum() for out, w in zip(outs32, weights)), leaves32)
    for got, want in zip((*outs, *grads), (*outs32, *grads32), strict=True):
        assert got.dtype == torch.bfloat16
        assert torch.equal(got, want.bfloat16())


def detached(inputs: dict) -> dict:
    """Keyword arguments with their tensors detached."""
    return {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}


def as_float32(inputs: dict) -> dict:
    """Keyword arguments with their tensors cast to float32, each leaf requiring grad as its original does."""
    return {
        k: v.detach().float().requires_grad_(v.requires_grad) if isinstance(v, torch.Tensor) else v
        for k, v in inputs.items()
    }


def spy_on_transition_forward(monkeypatch, module) -> list:
    """Record each TransitionForward the kernel ``module`` makes as ``(save, elementwise)``."""
    calls = []
    real = module.TransitionForward

    def spy(transition, steps, batch, *, save, elementwise=None):
        calls.append((save, elementwise))
        return real(transition, steps, batch, save=save, elementwise=elementwise)

    monkeypatch.setattr(module, "TransitionForward", spy)
    return calls


def spy_on_prepacked_linear(monkeypatch, module) -> list:
    """Record each ``prepacked_linear(weight, rows, bias)`` of the kernel ``module`` as ``(weight.dtype, rows,
    bias)`` and each call of the product it returns as "step"."""
    calls = []
    real = module.prepacked_linear

    def spy(weight, rows, bias=None):
        calls.append((weight.dtype, rows, bias))
        product = real(weight, rows, bias)
        return lambda *a, **k: calls.append("step") or product(*a, **k)

    monkeypatch.setattr(module, "prepacked_linear", spy)
    return calls


def assert_bfloat16_loop_close_to_float32(module, scan: Scan, inputs: dict, monkeypatch, *, atol: float = 0.05) -> None:
    """The bfloat16 inference loop (the module's limit set to 0) against the float32 scan of the same bfloat16
    numbers: outputs in bfloat16, each element within ``atol``. ``inputs`` are bfloat16 keyword arguments."""
    monkeypatch.setattr(module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)
    with torch.no_grad():
        got = scan(**detached(inputs))
        want = scan(**as_float32(detached(inputs)))
    assert all(g.dtype == torch.bfloat16 for g in got)
    assert_all_close([g.float() for g in got], list(want), atol=atol)


def assert_bfloat16_loop_takes_the_packed_product(module, scan: Scan, inputs: dict, monkeypatch) -> torch.Tensor | None:
    """Above its limit a bfloat16 inference scan multiplies through prepacked_linear with the bfloat16 weight,
    packed once for the batch and called at every step, on the oneDNN route (forced: this CPU's native
    bfloat16 support is not what is tested). Returns the bias it was packed with. ``inputs`` are bfloat16
    keyword arguments."""
    monkeypatch.setattr(linear_module, "onednn_bfloat16", lambda: True)
    monkeypatch.setattr(module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)
    calls = spy_on_prepacked_linear(monkeypatch, module)
    T, B = inputs["xp"].shape[:2]
    with torch.no_grad():
        scan(**detached(inputs))
    (dtype, rows, bias), *steps = calls
    assert (dtype, rows) == (torch.bfloat16, B) and steps == ["step"] * T
    assert linear_module.onednn_faster(torch.bfloat16, B, torch.device("cpu"))
    return bias


def assert_bfloat16_training_runs_in_bfloat16(module, scan: Scan, inputs: dict, monkeypatch) -> None:
    """Above its limit bfloat16 training keeps the loop as written, in bfloat16 (not the inference loop and its
    packed product): outputs and gradients in bfloat16, each within 2% of its largest element of the float32
    scan's of the same numbers. ``inputs`` are bfloat16 keyword arguments, the differentiable ones requiring
    grad."""
    monkeypatch.setattr(module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)
    calls = spy_on_prepacked_linear(monkeypatch, module)
    up = as_float32(inputs)
    got, want = scan(**inputs), scan(**up)
    leaves = [k for k, v in inputs.items() if isinstance(v, torch.Tensor) and v.requires_grad]
    got = [*got, *torch.autograd.grad(sum(out.float().sum() for out in got), [inputs[k] for k in leaves])]
    want = [*want, *torch.autograd.grad(sum(out.sum() for out in want), [up[k] for k in leaves])]
    assert calls == [] and all(g.dtype == torch.bfloat16 for g in got)
    for g, w in zip(got, want, strict=True):
        assert (g.float() - w).abs().max() <= 0.02 * w.abs().max()


def assert_large_bfloat16_weight_runs_in_bfloat16_at_one_row(module, scan: Scan, inputs: dict, monkeypatch) -> None:
    """A weight whose float32 copy would not fit the cache takes the bfloat16 inference loop even for one row:
    with ``BFLOAT16_LARGE_WEIGHT`` one above the weight's elements the loop runs in float32, at them in bfloat16
    through oneDNN (the route forced, whatever this CPU's native bfloat16 support), close to the float32 scan.
    ``inputs`` are bfloat16 keyword arguments; the first row of the batch is taken."""
    monkeypatch.setattr(linear_module, "onednn_bfloat16", lambda: True)
    rows = ("xp", "h0", "c0", "keep", "keep_h", "keep_c", "recurrent_mask")  # (.., B, .) each
    one_row = {k: v[..., :1, :] if k in rows else v for k, v in detached(inputs).items()}
    seen = []
    forward = module._forward
    monkeypatch.setattr(module, "_forward", lambda xp, *a, **k: seen.append(xp.dtype) or forward(xp, *a, **k))
    calls = spy_on_prepacked_linear(monkeypatch, module)
    numel = one_row["weight_hh"].numel()
    for limit, loop_dtype in ((numel + 1, torch.float32), (numel, torch.bfloat16)):
        monkeypatch.setattr(linear_module, "BFLOAT16_LARGE_WEIGHT", limit)
        seen.clear()
        calls.clear()
        with torch.no_grad():
            got = scan(**one_row)
        assert seen == [loop_dtype]
    assert calls[0][:2] == (torch.bfloat16, 1)
    assert linear_module.onednn_faster(torch.bfloat16, 1, torch.device("cpu"), numel)
    with torch.no_grad():
        want = scan(**as_float32(one_row))
    assert_all_close([g.float() for g in got], list(want), atol=0.05)
