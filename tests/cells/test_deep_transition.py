import pytest
import torch

from rnnkit.cells import DeepTransition, GRUCell, LSTMCell, LSTMState, MinimalGRUCell, RecurrentCell, RNNCell

D = torch.float64


@pytest.mark.parametrize("skip", [False, True])
def test_equations_around_a_gru(skip):
    inner = GRUCell(3, 4, dtype=D)
    cell = DeepTransition(inner, depth=2, activation=torch.tanh, skip=skip)
    x, h = torch.randn(2, 3, dtype=D), torch.randn(2, 4, dtype=D)
    u_1 = torch.tanh(h @ cell.transition[0].weight.T + cell.transition[0].bias)
    u_2 = torch.tanh(u_1 @ cell.transition[1].weight.T + cell.transition[1].bias)
    h_prime = h + u_2 if skip else u_2
    y, h_new = cell(x, h)
    torch.testing.assert_close(y, inner(x, h_prime)[0], rtol=0, atol=0)
    torch.testing.assert_close(h_new, y, rtol=0, atol=0)


def test_lstm_memory_bypasses_the_transition_and_mask_applies_to_h():
    inner = LSTMCell(3, 4, dtype=D)
    cell = DeepTransition(inner, depth=1, skip=True)
    x = torch.randn(2, 3, dtype=D)
    s = LSTMState(torch.randn(2, 4, dtype=D), torch.randn(2, 4, dtype=D))
    m = torch.tensor([[2.0, 0.0, 2.0, 0.0], [0.0, 2.0, 0.0, 2.0]], dtype=D)
    u_0 = m * s.h
    h_prime = u_0 + torch.tanh(cell.transition[0](u_0))
    y, state = cell(x, s, recurrent_mask=m)
    want_y, want_state = inner(x, LSTMState(h_prime, s.c))
    torch.testing.assert_close(y, want_y, rtol=0, atol=0)
    torch.testing.assert_close(tuple(state), tuple(want_state), rtol=0, atol=0)
    assert isinstance(cell.initial_state(5), LSTMState)


@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("make", [lambda: RNNCell(2, 3, dtype=D), lambda: LSTMCell(2, 3, proj_size=2, dtype=D)])
def test_gradcheck_with_keep_and_mask(skip, make):
    cell = DeepTransition(make(), depth=2, skip=skip)
    s0 = cell.initial_state(2)
    leaves = [torch.randn_like(t).requires_grad_() for t in (s0 if isinstance(s0, tuple) else [s0])]
    s0 = type(s0)(*leaves) if isinstance(s0, tuple) else leaves[0]
    x = torch.randn(3, 2, 2, dtype=D, requires_grad=True)
    k = torch.tensor([0.0, 1.0, 0.5], dtype=D).view(3, 1, 1).expand(3, 2, 1)
    keep = type(s0)(k, k) if isinstance(s0, tuple) else k
    R = leaves[0].shape[-1]
    mask = (torch.arange(2 * R, dtype=D).view(2, R) % 2 == 0).to(D) * 2

    def run(*_):
        ys, state = cell.scan(x, s0, keep=keep, recurrent_mask=mask)
        return (ys, *state) if isinstance(state, tuple) else (ys, state)

    assert torch.autograd.gradcheck(run, (x, *leaves, *cell.parameters()))


def test_with_input_size_and_depth_check():
    cell = DeepTransition(LSTMCell(3, 4, peephole=True), depth=3, skip=True)
    other = cell.with_input_size(7)
    assert other.input_size == 7 and other.cell.peephole and other.depth == 3 and other.skip
    assert other.transition[0].weight is not cell.transition[0].weight
    with pytest.raises(ValueError, match="depth"):
        DeepTransition(RNNCell(3, 4), depth=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: LSTMCell(3, 3, dtype=D),
        lambda: LSTMCell(3, 4, proj_size=3, peephole=True, dtype=D),
        lambda: GRUCell(3, 3, dtype=D),
        lambda: RNNCell(3, 3, nonlinearity="relu", dtype=D),
        lambda: MinimalGRUCell(3, 3, dtype=D),
    ],
)
def test_scan_with_projections_before_the_loop_equals_the_step_loop(make, check_scan_equals_step_loop):
    cell = DeepTransition(make(), depth=2, skip=True)
    check_scan_equals_step_loop(cell, grad_atol=1e-10)


def test_scan_projects_all_inputs_at_once_only_for_a_projected_input_cell(monkeypatch):
    calls = []
    for cls in (LSTMCell, Leaky):
        monkeypatch.setattr(cls, "forward", _counting(cls.forward, calls, f"{cls.__name__}.forward"))
    monkeypatch.setattr(LSTMCell, "project_input", _counting(LSTMCell.project_input, calls, "project_input"))
    x = torch.randn(5, 2, 3, dtype=D)
    lstm = DeepTransition(LSTMCell(3, 4, dtype=D))
    lstm.scan(x, lstm.initial_state(2))
    assert calls == ["project_input"]
    calls.clear()
    leaky = DeepTransition(Leaky(3, 4))
    leaky.scan(x, leaky.initial_state(2))
    assert calls == ["Leaky.forward"] * 5


class Leaky(RecurrentCell):
    """A user's cell with only a forward: DeepTransition runs it step by step."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.W = torch.nn.Linear(input_size + hidden_size, hidden_size, dtype=D)

    def forward(self, x_t, h):
        h = 0.5 * h + 0.5 * torch.tanh(self.W(torch.cat([x_t, h], -1)))
        return h, h


def _counting(fn, calls, name):
    def counted(*args, **kwargs):
        calls.append(name)
        return fn(*args, **kwargs)

    return counted


def test_no_state_is_the_zero_state():
    cell = DeepTransition(LSTMCell(3, 4, dtype=D), depth=2)
    x = torch.randn(2, 3, dtype=D)
    y, state = cell(x)
    y_zero, state_zero = cell(x, cell.initial_state(2, dtype=D))
    torch.testing.assert_close(y, y_zero, rtol=0, atol=0)
    torch.testing.assert_close(tuple(state), tuple(state_zero), rtol=0, atol=0)


def test_unbatched_step_is_the_batch_of_one():
    cell = DeepTransition(GRUCell(3, 4, dtype=D), depth=2)
    x, h = torch.randn(3, dtype=D), torch.randn(4, dtype=D)
    y, state = cell(x, h)
    y_batched, state_batched = cell(x[None], h[None])
    assert y.shape == state.shape == (4,)
    torch.testing.assert_close(y, y_batched[0], rtol=0, atol=0)
    assert cell(x)[0].shape == (4,)
