import pytest
import torch
from torch import nn

from rnnkit.cells import RNNCell
from rnnkit.kernels.transition import Transition

D = torch.float64


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch_cell_both_ways(nonlinearity, bias, check_matches_torch_cell):
    check_matches_torch_cell(
        lambda: RNNCell(3, 5, bias, nonlinearity, dtype=D), lambda: nn.RNNCell(3, 5, bias, nonlinearity, dtype=D)
    )


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
def test_scan_equals_step_loop_with_keep_and_mask(nonlinearity, check_scan_equals_step_loop):
    check_scan_equals_step_loop(RNNCell(3, 4, nonlinearity=nonlinearity, dtype=D), grad_atol=1e-11)


def test_gradcheck_scan_with_keep_and_mask(gradcheck_scan):
    assert gradcheck_scan(RNNCell(2, 3, dtype=D))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_scan_with_a_transition_gives_the_recurrent_product_h_prime(nonlinearity):
    """The transition's h' = h + sigmoid(h W^T + b) replaces h_{t-1} in the recurrent product, and the recurrent
    mask applies to its input."""
    cell = RNNCell(3, 4, nonlinearity=nonlinearity, dtype=D)
    W, b = torch.randn(4, 4, dtype=D), torch.randn(4, dtype=D)
    x, h = torch.randn(5, 2, 3, dtype=D), torch.randn(2, 4, dtype=D)
    m = torch.tensor([[2.0, 0.0, 2.0, 0.0], [0.0, 2.0, 0.0, 2.0]], dtype=D)
    ys, h_T = cell.scan(x, h, recurrent_mask=m, transition=Transition((W,), (b,), "sigmoid", skip=True))
    want = []
    for x_t in x.unbind(0):
        u_0 = m * h
        y, h = cell(x_t, u_0 + torch.sigmoid(u_0 @ W.T + b))
        want.append(y)
    torch.testing.assert_close(ys, torch.stack(want), rtol=0, atol=1e-12)
    torch.testing.assert_close(h_T, h, rtol=0, atol=1e-12)


def test_with_input_size_and_errors():
    cell = RNNCell(3, 4, bias=False, nonlinearity="relu")
    other = cell.with_input_size(7)
    assert (other.input_size, other.hidden_size, other.bias, other.nonlinearity) == (7, 4, False, "relu")
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNCell(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="positive"):
        RNNCell(0, 4)
