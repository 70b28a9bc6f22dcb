"""Checks every built-in cell must pass, offered to the cell tests as fixtures."""

from collections.abc import Callable

import pytest
import torch
from torch import nn

from rnnkit.cells import map_state, scan_steps, state_leaves

D = torch.float64
# For gradcheck: a state updated, held, then half-held (the same for every unit), and a recurrent
# dropout mask of a (2, 3) state
KEEP_SCHEDULE = torch.tensor([0.0, 1.0, 0.5], dtype=D).view(3, 1, 1)  # (T, 1, 1)
MASK_2x3 = torch.tensor([[2.0, 0.0, 2.0], [0.0, 2.0, 2.0]], dtype=D)


def random_state(cell: nn.Module, batch_size: int) -> object:
    """A random float64 state of ``cell``'s structure, every leaf requiring its gradient."""
    return map_state(lambda zero: torch.randn_like(zero).requires_grad_(), cell.initial_state(batch_size, dtype=D))


def check_matches_torch_cell(make_ours: Callable[[], nn.Module], make_ref: Callable[[], nn.Module]) -> None:
    """A cell with a tensor state equals its ``torch.nn`` counterpart, outputs and gradients, and its
    ``state_dict`` moves both ways."""
    ours, ref = make_ours(), make_ref()
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(4, ours.input_size, dtype=D, requires_grad=True)
    h = torch.randn(4, ours.hidden_size, dtype=D)
    y, h1 = ours(x, h)
    assert torch.equal(y, h1)
    torch.testing.assert_close(y, ref(x, h), rtol=0, atol=1e-12)
    g_ours = torch.autograd.grad(y.square().sum(), [x, *ours.parameters()])
    g_ref = torch.autograd.grad(ref(x, h).square().sum(), [x, *ref.parameters()])
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    back = make_ours()
    back.load_state_dict(ref.state_dict())
    torch.testing.assert_close(back(x, h)[0], y, rtol=0, atol=0)


def check_scan_equals_step_loop(cell: nn.Module, grad_atol: float) -> None:
    """``cell.scan`` (the fused kernel) equals ``scan_steps`` (its ``forward`` step by step) in outputs,
    final state and every gradient, plain and with ``keep`` and a recurrent mask."""
    x = torch.randn(6, 2, cell.input_size, dtype=D, requires_grad=True)
    s0 = random_state(cell, 2)
    keep = map_state(lambda s: torch.bernoulli(torch.full((6, *s.shape), 0.3, dtype=D)), s0)  # (T, B, ·)
    h0 = state_leaves(s0)[0]
    mask = torch.bernoulli(torch.full(h0.shape, 0.7, dtype=D)) / 0.7
    inputs = [x, *state_leaves(s0), *cell.parameters()]
    for kw in ({}, {"keep": keep, "recurrent_mask": mask}):
        ys, sT = cell.scan(x, s0, **kw)
        ys2, sT2 = scan_steps(cell, x, s0, **kw)
        torch.testing.assert_close(ys, ys2, rtol=0, atol=1e-12)
        torch.testing.assert_close(state_leaves(sT), state_leaves(sT2), rtol=0, atol=1e-12)
        g = torch.autograd.grad((ys * ys.detach().cos()).sum() + sum(s.sum() for s in state_leaves(sT)), inputs)
        g2 = torch.autograd.grad((ys2 * ys2.detach().cos()).sum() + sum(s.sum() for s in state_leaves(sT2)), inputs)
        for a, b in zip(g, g2):
            torch.testing.assert_close(a, b, rtol=0, atol=grad_atol)


def gradcheck_scan(cell: nn.Module, keep: object = None, recurrent_mask: torch.Tensor | None = None) -> bool:
    """``torch.autograd.gradcheck`` of ``cell.scan`` over 3 steps of a batch of 2, in the input, the
    initial state and every parameter. ``keep`` and ``recurrent_mask`` default to
    :data:`KEEP_SCHEDULE` and :data:`MASK_2x3`, for a cell with a tensor state of 3 units."""
    x = torch.randn(3, 2, cell.input_size, dtype=D, requires_grad=True)
    s0 = random_state(cell, 2)
    keep = KEEP_SCHEDULE.expand(3, 2, 1) if keep is None else keep
    recurrent_mask = MASK_2x3 if recurrent_mask is None else recurrent_mask

    def run(*_):
        ys, state = cell.scan(x, s0, keep=keep, recurrent_mask=recurrent_mask)
        return ys, *state_leaves(state)

    # gradcheck perturbs its inputs in place, so the cell's own parameters can be the inputs
    return torch.autograd.gradcheck(run, (x, *state_leaves(s0), *cell.parameters()))


@pytest.fixture(name="check_matches_torch_cell")
def check_matches_torch_cell_fixture():
    return check_matches_torch_cell


@pytest.fixture(name="check_scan_equals_step_loop")
def check_scan_equals_step_loop_fixture():
    return check_scan_equals_step_loop


@pytest.fixture(name="gradcheck_scan")
def gradcheck_scan_fixture():
    return gradcheck_scan
