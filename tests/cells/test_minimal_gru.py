import math

import pytest
import torch

from rnnkit.cells import MinimalGRUCell

D = torch.float64


def test_hand_computed_steps_seed_000_eq_10_to_14():
    # MinimalGRUCell(1, 1), no bias: weight_ih = [1, 2] (u, c), weight_hh = [-1, 0.5]; x = 1, then 2; h0 = 0.
    cell = MinimalGRUCell(1, 1, bias=False, dtype=D)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor([[1.0], [2.0]]))
        cell.weight_hh.copy_(torch.tensor([[-1.0], [0.5]]))
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    h = 0.0
    want = []
    for x in (1.0, 2.0):
        gamma_u = sig(1.0 * x - 1.0 * h)  # eq. 11
        c_tilde = math.tanh(2.0 * x + 0.5 * h)  # eq. 10
        h = gamma_u * c_tilde + (1 - gamma_u) * h  # eq. 12-13
        want.append(h)
    ys, hT = cell.scan(torch.tensor([[[1.0]], [[2.0]]], dtype=D), torch.zeros(1, 1, dtype=D))
    assert ys.flatten().tolist() == pytest.approx(want, abs=1e-14)
    assert hT.item() == pytest.approx(want[-1], abs=1e-14)


def test_update_gate_closed_keeps_state():
    cell = MinimalGRUCell(2, 3, dtype=D)
    with torch.no_grad():
        cell.bias_ih[:3] = -1e3  # gamma_u = 0: the memory is copied through
    h = torch.randn(4, 3, dtype=D)
    torch.testing.assert_close(cell(torch.randn(4, 2, dtype=D), h)[0], h, rtol=0, atol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
def test_scan_equals_step_loop_with_keep_and_mask(bias, check_scan_equals_step_loop):
    check_scan_equals_step_loop(MinimalGRUCell(3, 4, bias, dtype=D), grad_atol=1e-11)


def test_gradcheck_scan_with_keep_and_mask(gradcheck_scan):
    assert gradcheck_scan(MinimalGRUCell(2, 3, dtype=D))


def test_parameter_layout_and_with_input_size():
    cell = MinimalGRUCell(3, 4)
    assert {k: tuple(v.shape) for k, v in cell.state_dict().items()} == {
        "weight_ih": (8, 3), "weight_hh": (8, 4), "bias_ih": (8,), "bias_hh": (8,)
    }
    assert cell.with_input_size(5).weight_ih.shape == (8, 5)
