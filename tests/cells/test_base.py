import pytest
import torch
from torch import nn

from rnnkit.cells import (
    GRUCell, LSTMCell, LSTMState, MinimalGRUCell, RecurrentCell, RNNCell, RNNCellBase, map_state, scan_steps,
)
from rnnkit.cells.base import ProjectedInputCell
from rnnkit.cells.state import state_leaves, unflatten_state

D = torch.float64


class Leaky(RecurrentCell):
    """h_t = (1 - a) h_{t-1} + a tanh(W x_t): a minimal cell written against the contract."""

    def __init__(self, input_size, hidden_size, a=0.5):
        super().__init__()
        self.input_size, self.hidden_size, self.a = input_size, hidden_size, a
        self.W = nn.Linear(input_size, hidden_size, bias=False, dtype=D)

    def forward(self, x_t, h):
        h = (1 - self.a) * h + self.a * torch.tanh(self.W(x_t))
        return h, h


def test_subclass_gets_the_defaults():
    cell = Leaky(3, 2)
    assert cell.output_size == 2 and not cell.supports_recurrent_mask
    h0 = cell.initial_state(4)
    assert h0.shape == (4, 2) and h0.dtype == D and not h0.any()
    x = torch.randn(5, 4, 3, dtype=D)
    ys, hT = cell.scan(x, h0)
    h = h0
    for t in range(5):
        h = 0.5 * h + 0.5 * torch.tanh(x[t] @ cell.W.weight.T)
        torch.testing.assert_close(ys[t], h, rtol=0, atol=1e-15)
    torch.testing.assert_close(hT, h, rtol=0, atol=0)


def test_abstract_forward_is_required():
    class NoForward(RecurrentCell):
        pass

    with pytest.raises(TypeError):
        NoForward()


def test_keep_holds_the_state_and_output_is_that_of_the_held_state():
    cell = Leaky(3, 2)
    x = torch.randn(3, 1, 3, dtype=D)
    keep = torch.tensor([0.0, 1.0, 0.0], dtype=D).view(3, 1, 1)
    ys, hT = scan_steps(cell, x, cell.initial_state(1), keep=keep)
    torch.testing.assert_close(ys[1], ys[0], rtol=0, atol=0)
    free, _ = scan_steps(cell, x[[0, 2]], cell.initial_state(1))
    torch.testing.assert_close(ys[2], free[1], rtol=0, atol=1e-15)


def test_recurrent_mask_needs_support():
    with pytest.raises(ValueError, match="recurrent_mask"):
        x, h0 = torch.randn(2, 1, 3, dtype=D), torch.zeros(1, 2, dtype=D)
        scan_steps(Leaky(3, 2), x, h0, recurrent_mask=torch.ones(1, 2))


def test_state_helpers():
    s = LSTMState(torch.ones(2, 3), torch.zeros(2, 4))
    doubled = map_state(lambda t: 2 * t, s)
    assert isinstance(doubled, LSTMState) and doubled.h.sum() == 12
    summed = map_state(lambda a, b: a + b, s, doubled)
    assert summed.h.sum() == 18 and summed.c.sum() == 0
    assert [t.shape[-1] for t in state_leaves(s)] == [3, 4]
    rebuilt = unflatten_state(s, [torch.full((2, 3), 5.0), torch.full((2, 4), 6.0)])
    assert isinstance(rebuilt, LSTMState) and rebuilt.c[0, 0] == 6.0
    nested = (torch.ones(1), (torch.zeros(1), torch.ones(1)))
    assert map_state(lambda t: t + 1, nested)[1][1].item() == 2.0
    with pytest.raises(TypeError, match="state"):
        map_state(lambda t: t, {"h": torch.ones(1)})


def test_builtin_initial_state_follows_parameters():
    cell = RNNCell(2, 3, dtype=D)
    assert cell.initial_state(2).dtype == D
    assert cell.initial_state(2, dtype=torch.float32).dtype == torch.float32


class Scaled(RNNCellBase):
    """h_t = tanh(s (W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)): one gate block and an option beyond bias."""

    gates = 1

    def __init__(self, input_size, hidden_size, bias=True, scale=1.0, *, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self.scale = scale
        self.reset_parameters()

    def options(self):
        return {"bias": self.bias, "scale": self.scale}

    def forward(self, x_t, h):
        h = torch.tanh(self.scale * (nn.functional.linear(x_t, self.weight_ih, self.bias_ih)
                                     + nn.functional.linear(h, self.weight_hh, self.bias_hh)))
        return h, h


def test_rnn_cell_base_layout_initialisation_and_rebuild():
    cell = Scaled(3, 4, bias=False, scale=2.0, dtype=D)
    assert {k: tuple(v.shape) for k, v in cell.state_dict().items()} == {"weight_ih": (4, 3), "weight_hh": (4, 4)}
    assert all(p.abs().max() <= 0.5 for p in cell.parameters())
    other = cell.with_input_size(6)
    assert type(other) is Scaled and other.weight_ih.shape == (4, 6) and other.weight_ih.dtype == D
    assert (other.bias, other.scale) == (False, 2.0)
    assert repr(cell) == "Scaled(3, 4, bias=False, scale=2.0)"
    with pytest.raises(ValueError, match="positive"):
        Scaled(3, 0)


@pytest.mark.parametrize("make", [
    lambda: LSTMCell(3, 4, proj_size=2, dtype=D), lambda: GRUCell(3, 4, dtype=D), lambda: RNNCell(3, 4, dtype=D),
    lambda: MinimalGRUCell(3, 4, dtype=D),
])
def test_projected_input_cells_forward_is_step_of_the_input_projection(make):
    cell = make()
    assert isinstance(cell, ProjectedInputCell)
    x = torch.randn(5, 2, 3, dtype=D)
    state = map_state(torch.randn_like, cell.initial_state(2))
    xp = cell.project_input(x)  # (T, B, G*H)
    for t in range(5):
        xp_t = torch.nn.functional.linear(x[t], cell.weight_ih, cell.bias_ih)
        torch.testing.assert_close(xp[t], xp_t, rtol=0, atol=1e-12)
        y, s = cell(x[t], state)
        y_step, s_step = cell.step(xp_t, state)
        assert torch.equal(y, y_step)
        assert all(torch.equal(a, b) for a, b in zip(state_leaves(s), state_leaves(s_step)))


@pytest.mark.parametrize(
    "make, ref",
    [
        (lambda: RNNCell(3, 4, nonlinearity="relu", dtype=D), nn.RNNCell(3, 4, nonlinearity="relu", dtype=D)),
        (lambda: GRUCell(3, 4, dtype=D), nn.GRUCell(3, 4, dtype=D)),
        (lambda: LSTMCell(3, 4, dtype=D), nn.LSTMCell(3, 4, dtype=D)),
    ],
)
def test_no_state_is_the_zero_state_as_torch_nn_cells(make, ref):
    cell = make()
    cell.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, dtype=D)
    y, state = cell(x)
    y_zero, state_zero = cell(x, cell.initial_state(2))
    torch.testing.assert_close(y, y_zero, rtol=0, atol=0)
    assert type(state) is type(state_zero)
    want = ref(x, None)
    torch.testing.assert_close(state if isinstance(want, torch.Tensor) else tuple(state), want, rtol=0, atol=1e-12)
    assert MinimalGRUCell(3, 4)(x.float(), None)[0].shape == (2, 4)


@pytest.mark.parametrize(
    "make, ref",
    [
        (lambda: RNNCell(3, 4, dtype=D), nn.RNNCell(3, 4, dtype=D)),
        (lambda: GRUCell(3, 4, dtype=D), nn.GRUCell(3, 4, dtype=D)),
        (lambda: LSTMCell(3, 4, dtype=D), nn.LSTMCell(3, 4, dtype=D)),
    ],
)
def test_unbatched_step_as_torch_nn_cells(make, ref):
    # x_t (input_size,): without care its size would be taken for the batch of the zero state
    cell = make()
    cell.load_state_dict(ref.state_dict())
    x = torch.randn(3, dtype=D)
    for given in (None, cell.initial_state(1)):
        state_in = None if given is None else map_state(lambda s: torch.randn_like(s[0]), given)
        y, state = cell(x, state_in)
        hx = state_in if state_in is None or isinstance(state_in, torch.Tensor) else tuple(state_in)
        want = ref(x, hx)
        assert y.shape == (4,)
        torch.testing.assert_close(state if isinstance(want, torch.Tensor) else tuple(state), want, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="unbatched"):
        cell(x, cell.initial_state(1))
    with pytest.raises(ValueError, match="x_t must be"):
        cell(torch.randn(1, 2, 3, dtype=D))
