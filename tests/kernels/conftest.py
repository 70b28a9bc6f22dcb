"""Helpers shared by the tests of the GRU, simple-RNN and minimal-GRU kernels: their masks, a loss with fixed
random weights on both outputs, and the properties every scan kernel has whatever its cell."""

from __future__ import annotations

from collections.abc import Callable

import torch

Scan = Callable[..., tuple[torch.Tensor, torch.Tensor]]

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
    up = {
        name: value.detach().float().requires_grad_(value.requires_grad) if isinstance(value, torch.Tensor) else value
        for name, value in inputs.items()
    }
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
