import math

import pytest
import torch
from torch import nn

from rnnkit.cells import GRUCell
from rnnkit.cells.gru import gru_input_bias

D = torch.float64


@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch_cell_both_ways(bias, check_matches_torch_cell):
    check_matches_torch_cell(lambda: GRUCell(3, 5, bias, dtype=D), lambda: nn.GRUCell(3, 5, bias, dtype=D))


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
def test_scan_equals_step_loop_with_keep_and_mask(bias, check_scan_equals_step_loop):
    check_scan_equals_step_loop(GRUCell(3, 4, bias, dtype=D), grad_atol=1e-11)


def test_gradcheck_scan_with_keep_and_mask(gradcheck_scan):
    assert gradcheck_scan(GRUCell(2, 3, dtype=D))


def test_with_input_size():
    other = GRUCell(3, 4, bias=False).with_input_size(7)
    assert (other.input_size, other.hidden_size, other.bias) == (7, 4, False)
    assert other.weight_ih.shape == (12, 7)
