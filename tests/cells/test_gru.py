import math

import pytest
import torch
from torch import nn

from rnnkit.cells import GRUCell, scan_steps
from rnnkit.cells.gru import gru_input_bias

D = torch.float64


@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch_cell_both_ways(bias):
    ours = GRUCell(3, 5, bias, dtype=D)
    ref = nn.GRUCell(3, 5, bias, dtype=D)
    ref.load_state_dict(ours.state_dict())
    x, h = torch.randn(4, 3, dtype=D, requires_grad=True), torch.randn(4, 5, dtype=D)
    y, h1 = ours(x, h)
    assert torch.equal(y, h1)
    torch.testing.assert_close(y, ref(x, h), rtol=0, atol=1e-12)
    g_ours = torch.autograd.grad(y.square().sum(), [x, *ours.parameters()])
    g_ref = torch.autograd.grad(ref(x, h).square().sum(), [x, *ref.parameters()])
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    back = GRUCell(3, 5, bias, dtype=D)
    back.load_state_dict(ref.state_dict())
    torch.testing.assert_close(back(x, h)[0], y, rtol=0, atol=0)


def test_hand_computed_step():
    # GRUCell(1, 1): weight_ih = [0.5, -1, 2] (r, z, n), weight_hh = [1, 0.5, -1], bias_hh n-block 0.25, others 0.
    cell = GRUCell(1, 1, dtype=D)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor([[0.5], [-1.0], [2.0]]))
        cell.weight_hh.copy_(torch.tensor([[1.0], [0.5], [-1.0]]))
        cell.bias_ih.zero_()
        cell.bias_hh.copy_(torch.tensor([0.0, 0.0, 0.25]))
    x, h = 2.0, 0.5
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    r = sig(0.5 * x + 1.0 * h)
    z = sig(-1.0 * x + 0.5 * h)
    n = math.tanh(2.0 * x + r * (-1.0 * h + 0.25))
    want = (1 - z) * n + z * h
    y, _ = cell(torch.tensor([[x]], dtype=D), torch.tensor([[h]], dtype=D))
    assert y.item() == pytest.approx(want, abs=1e-14)


def test_input_bias_folds_r_and_z_but_keeps_b_hn_apart():
    b_ih, b_hh = torch.arange(6.0), 10 * torch.arange(6.0)
    b, b_hn = gru_input_bias(b_ih, b_hh)
    assert b.tolist() == [0.0, 11.0, 22.0, 33.0, 4.0, 5.0]
    assert b_hn.tolist() == [40.0, 50.0]
    assert gru_input_bias(None, None) == (None, None)


@pytest.mark.parametrize("bias", [True, False])
def test_scan_equals_step_loop_with_keep_and_mask(bias):
    cell = GRUCell(3, 4, bias, dtype=D)
    x = torch.randn(6, 2, 3, dtype=D, requires_grad=True)
    h0 = torch.randn(2, 4, dtype=D, requires_grad=True)
    keep = torch.bernoulli(torch.full((6, 2, 4), 0.3, dtype=D))
    mask = torch.bernoulli(torch.full((2, 4), 0.7, dtype=D)) / 0.7
    inputs = [x, h0, *cell.parameters()]
    for kw in ({}, {"keep": keep, "recurrent_mask": mask}):
        ys, hT = cell.scan(x, h0, **kw)
        ys2, hT2 = scan_steps(cell, x, h0, **kw)
        torch.testing.assert_close(ys, ys2, rtol=0, atol=1e-12)
        torch.testing.assert_close(hT, hT2, rtol=0, atol=1e-12)
        g = torch.autograd.grad((ys * ys.detach().cos()).sum() + hT.sum(), inputs)
        g2 = torch.autograd.grad((ys2 * ys2.detach().cos()).sum() + hT2.sum(), inputs)
        for a, b in zip(g, g2):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-11)


def test_gradcheck_scan_with_keep_and_mask():
    cell = GRUCell(2, 3, dtype=D)
    x = torch.randn(3, 2, 2, dtype=D, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=D, requires_grad=True)
    keep = torch.tensor([0.0, 1.0, 0.5], dtype=D).view(3, 1, 1).expand(3, 2, 1)
    mask = torch.tensor([[2.0, 0.0, 2.0], [0.0, 2.0, 2.0]], dtype=D)
    # gradcheck perturbs its inputs in place, so the cell's own parameters can be the inputs
    assert torch.autograd.gradcheck(
        lambda *_: cell.scan(x, h0, keep=keep, recurrent_mask=mask), (x, h0, *cell.parameters())
    )


def test_with_input_size():
    other = GRUCell(3, 4, bias=False).with_input_size(7)
    assert (other.input_size, other.hidden_size, other.bias) == (7, 4, False)
    assert other.weight_ih.shape == (12, 7)
