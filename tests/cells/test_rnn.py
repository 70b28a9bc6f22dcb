import pytest
import torch
from torch import nn

from rnnkit.cells import RNNCell, scan_steps

D = torch.float64


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch_cell_both_ways(nonlinearity, bias):
    ours = RNNCell(3, 5, bias, nonlinearity, dtype=D)
    ref = nn.RNNCell(3, 5, bias, nonlinearity, dtype=D)
    ref.load_state_dict(ours.state_dict())
    x, h = torch.randn(4, 3, dtype=D, requires_grad=True), torch.randn(4, 5, dtype=D)
    y, h1 = ours(x, h)
    assert torch.equal(y, h1)
    torch.testing.assert_close(y, ref(x, h), rtol=0, atol=1e-12)
    g_ours = torch.autograd.grad(y.square().sum(), [x, *ours.parameters()])
    g_ref = torch.autograd.grad(ref(x, h).square().sum(), [x, *ref.parameters()])
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    back = RNNCell(3, 5, bias, nonlinearity, dtype=D)
    back.load_state_dict(ref.state_dict())
    torch.testing.assert_close(back(x, h)[0], y, rtol=0, atol=0)


def test_seed_001_rnncell_same_input_twice_gives_different_outputs():
    # nn.RNNCell(2, 2, relu, bias=False), weight_ih = ones, weight_hh = -2 * ones; input ones twice, h0 = ones.
    cell = RNNCell(2, 2, bias=False, nonlinearity="relu")
    with torch.no_grad():
        cell.weight_ih.fill_(1.0)
        cell.weight_hh.fill_(-2.0)
    h = torch.ones(1, 2)
    # step 1: relu(1*1 + 1*1 - 2*(1 + 1)) = relu(-2) = 0;  step 2: relu(2 - 2*(0 + 0)) = 2
    expected = [[max(0.0, (1 + 1) - 2 * (1 + 1))] * 2, [max(0.0, (1 + 1) - 2 * (0 + 0))] * 2]
    assert expected == [[0.0, 0.0], [2.0, 2.0]]
    for want in expected:
        y, h = cell(torch.ones(1, 2), h)
        assert y.tolist() == [want]


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_scan_equals_step_loop_with_keep_and_mask(nonlinearity):
    cell = RNNCell(3, 4, nonlinearity=nonlinearity, dtype=D)
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
    cell = RNNCell(2, 3, dtype=D)
    x = torch.randn(3, 2, 2, dtype=D, requires_grad=True)
    h0 = torch.randn(2, 3, dtype=D, requires_grad=True)
    keep = torch.tensor([0.0, 1.0, 0.5], dtype=D).view(3, 1, 1).expand(3, 2, 1)
    mask = torch.tensor([[2.0, 0.0, 2.0], [0.0, 2.0, 2.0]], dtype=D)
    # gradcheck perturbs its inputs in place, so the cell's own parameters can be the inputs
    assert torch.autograd.gradcheck(
        lambda *_: cell.scan(x, h0, keep=keep, recurrent_mask=mask), (x, h0, *cell.parameters())
    )


def test_with_input_size_and_errors():
    cell = RNNCell(3, 4, bias=False, nonlinearity="relu")
    other = cell.with_input_size(7)
    assert (other.input_size, other.hidden_size, other.bias, other.nonlinearity) == (7, 4, False, "relu")
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="positive"):
        RNNCell(0, 4)
