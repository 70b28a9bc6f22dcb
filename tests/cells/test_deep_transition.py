import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.cells import (
    DeepTransition, GRUCell, LSTMCell, LSTMState, MinimalGRUCell, RecurrentCell, RNNCell, scan_steps,
)  # fmt: skip
from rnnkit.cells import lstm as lstm_module
from rnnkit.cells import rnn as rnn_module
from rnnkit.cells.state import state_leaves
from rnnkit.kernels import rnn as rnn_kernel_module
from rnnkit.kernels.transition import Transition
from rnnkit.layers import Recurrent

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
    """On the step path (a GRU, which no kernel runs with a transition)."""
    calls = []
    for cls in (GRUCell, Leaky):
        monkeypatch.setattr(cls, "forward", _counting(cls.forward, calls, f"{cls.__name__}.forward"))
    monkeypatch.setattr(GRUCell, "project_input", _counting(GRUCell.project_input, calls, "project_input"))
    x = torch.randn(5, 2, 3, dtype=D)
    gru = DeepTransition(GRUCell(3, 4, dtype=D))
    gru.scan(x, gru.initial_state(2))
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


# The fused path: DeepTransition around an RNNCell, or an LSTMCell without projection, with an activation the
# kernel knows.

# Each cell whose kernel runs a transition: the module that calls the kernel, and the kernel's name there.
_KERNELS = {LSTMCell: (lstm_module, "lstm_scan"), RNNCell: (rnn_module, "rnn_scan")}


def _paths(monkeypatch, cell_type: type = LSTMCell) -> list[str]:
    """Record which whole-sequence path each scan of a ``cell_type`` took: the kernel with a transition, or the
    cell's steps."""
    calls = []
    module, kernel = _KERNELS[cell_type]
    real_scan, real_step = getattr(module, kernel), cell_type.step

    def scan(*args, transition=None, **kwargs):
        calls.append("fused" if isinstance(transition, Transition) else "kernel")
        return real_scan(*args, transition=transition, **kwargs)

    def step(self, *args, **kwargs):
        if not calls or calls[-1] != "steps":
            calls.append("steps")
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(module, kernel, scan)
    monkeypatch.setattr(cell_type, "step", step)
    return calls


def _perturbed(cell: DeepTransition) -> DeepTransition:
    """Parameters moved off their initial values (layer norm gains off 1, biases off 0)."""
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.2 * torch.randn_like(p))
    return cell


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("activation", [torch.tanh, torch.relu, torch.sigmoid], ids=["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("options", [{}, {"peephole": True}, {"layer_norm": True}], ids=["plain", "peephole", "ln"])
def test_fused_scan_equals_the_step_loop(depth, skip, activation, options, check_scan_equals_step_loop, monkeypatch):
    """Outputs, final state and every gradient (the transition's weights included), plain and with keep and
    recurrent masks: the fused kernel against the cell's forward step by step."""
    calls = _paths(monkeypatch)
    cell = _perturbed(DeepTransition(LSTMCell(3, 4, **options, dtype=D), depth, activation, skip))
    check_scan_equals_step_loop(cell, grad_atol=1e-10)
    assert calls == ["fused", "steps", "fused", "steps"]  # scan, then scan_steps, without and with masks


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("skip", [False, True])
@pytest.mark.parametrize("activation", [torch.tanh, torch.relu, torch.sigmoid], ids=["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_fused_scan_around_an_rnn_equals_the_step_loop(
    depth, skip, activation, nonlinearity, check_scan_equals_step_loop, monkeypatch
):
    """The DT-RNN (DT(S)-RNN with skip) in the simple RNN's kernel: outputs, final state and every gradient, plain
    and with keep and recurrent masks, against the cell's forward step by step."""
    calls = _paths(monkeypatch, RNNCell)
    cell = _perturbed(DeepTransition(RNNCell(3, 4, nonlinearity=nonlinearity, dtype=D), depth, activation, skip))
    check_scan_equals_step_loop(cell, grad_atol=1e-10)
    assert calls == ["fused", "steps", "fused", "steps"]


def test_gru_and_minimal_gru_keep_the_step_path():
    """Their h_{t-1} also enters the interpolation that makes h_t, which no kernel gives h'_{t-1}."""
    for inner in (GRUCell(3, 4, dtype=D), MinimalGRUCell(3, 4, dtype=D)):
        assert DeepTransition(inner, 2, torch.tanh)._fused_transition() is None
    assert isinstance(DeepTransition(RNNCell(3, 4, dtype=D), 2, torch.tanh)._fused_transition(), Transition)


def test_float16_and_subclassed_cells_keep_the_step_path():
    """float16, which the kernels do not compute in, and a subclass, whose step the kernel would replace."""

    class DoubledLSTMCell(LSTMCell):
        def step(self, xp_t, state, **kw):
            y, (h, c) = super().step(xp_t, state, **kw)
            return 2 * y, LSTMState(2 * h, c)

    half = DeepTransition(LSTMCell(3, 4), 1, torch.tanh).half()
    assert half._fused_transition() is None
    x = torch.randn(5, 2, 3).half()
    ys, _ = half.scan(x, half.initial_state(2, dtype=torch.float16))
    want, _ = scan_steps(half, x, half.initial_state(2, dtype=torch.float16))
    assert ys.dtype == torch.float16
    torch.testing.assert_close(ys, want, rtol=0, atol=2e-3)  # one input matmul against one a step: rounding
    assert isinstance(DeepTransition(LSTMCell(3, 4), 1, torch.tanh).bfloat16()._fused_transition(), Transition)

    sub = DeepTransition(DoubledLSTMCell(3, 4, dtype=D), 1, torch.tanh)
    assert sub._fused_transition() is None
    x = torch.randn(5, 2, 3, dtype=D)
    ys, _ = sub.scan(x, sub.initial_state(2))
    want, _ = scan_steps(sub, x, sub.initial_state(2))
    torch.testing.assert_close(ys, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "activation",
    [torch.tanh, F.tanh, nn.Tanh(), torch.relu, F.relu, nn.ReLU(), torch.sigmoid, F.sigmoid, nn.Sigmoid()],
    ids=["torch.tanh", "F.tanh", "nn.Tanh", "torch.relu", "F.relu", "nn.ReLU", "torch.sigmoid", "F.sigmoid", "nn.Sigmoid"],
)  # fmt: skip
def test_known_activations_take_the_fused_path(activation, monkeypatch):
    calls = _paths(monkeypatch)
    cell = DeepTransition(LSTMCell(3, 4, dtype=D), 1, activation)
    x = torch.randn(5, 2, 3, dtype=D)
    ys, _ = cell.scan(x, cell.initial_state(2))
    want, _ = scan_steps(cell, x, cell.initial_state(2))
    assert calls == ["fused", "steps"]
    torch.testing.assert_close(ys, want, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "make",
    [
        lambda: DeepTransition(LSTMCell(3, 4, dtype=D), 2, lambda u: u * 2),
        lambda: DeepTransition(LSTMCell(3, 4, dtype=D), 1, F.softplus, skip=True),
        lambda: DeepTransition(LSTMCell(3, 4, proj_size=2, dtype=D), 1, torch.tanh),
    ],
    ids=["lambda", "softplus", "proj_size"],
)
def test_other_cases_keep_the_step_path(make, monkeypatch):
    """An activation the kernel does not know, or an LSTM with projection: the steps, one at a time, as before."""
    calls = _paths(monkeypatch)
    cell = _perturbed(make())
    x = torch.randn(4, 2, 3, dtype=D, requires_grad=True)
    ys, state = cell.scan(x, cell.initial_state(2))
    assert calls == ["steps"]
    h, c = cell.initial_state(2)
    want = []
    for x_t in x.unbind(0):  # DeepTransition's equations, written out
        u_0 = u = h
        for W_k in cell.transition:
            u = cell.activation(W_k(u))
        y, (h, c) = cell.cell(x_t, LSTMState(u_0 + u if cell.skip else u, c))
        want.append(y)
    torch.testing.assert_close(ys, torch.stack(want), rtol=0, atol=1e-12)
    torch.testing.assert_close(tuple(state), (h, c), rtol=0, atol=1e-12)


CELLS = {
    "lstm": lambda: LSTMCell(3, 4, dtype=D),
    "lstm-peephole-ln": lambda: LSTMCell(3, 4, peephole=True, layer_norm=True, dtype=D),
    "rnn-tanh": lambda: RNNCell(3, 4, dtype=D),
    "rnn-relu": lambda: RNNCell(3, 4, nonlinearity="relu", dtype=D),
}


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("make", CELLS.values(), ids=CELLS.keys())
def test_recurrent_with_lengths_zoneout_and_recurrent_dropout_equals_the_step_path(bidirectional, make, monkeypatch):
    """Through ``Recurrent``: two layers, lengths, zoneout and recurrent dropout in training mode (the same
    random masks on both paths), the fused path equals the step path with every gradient."""
    torch.manual_seed(3)
    inner = make()
    cell = _perturbed(DeepTransition(inner, 2, torch.tanh, skip=True))
    layer = Recurrent(cell, num_layers=2, bidirectional=bidirectional, recurrent_dropout=0.3, zoneout=0.2)
    x = torch.randn(6, 3, 3, dtype=D, requires_grad=True)
    lengths = [6, 4, 1]
    inputs = [x, *layer.parameters()]

    def run():
        torch.manual_seed(4)
        ys, state = layer(x, lengths=lengths)
        h, *rest = state_leaves(state)
        loss = (ys * ys.detach().cos()).sum() + (h * h.detach().sin()).sum() + sum(s.sum() for s in rest)
        return [ys, h, *rest, *torch.autograd.grad(loss, inputs)]

    calls = _paths(monkeypatch, type(inner))
    fused = run()
    assert set(calls) == {"fused"} and len(calls) == 2 * (2 if bidirectional else 1)
    monkeypatch.setattr(DeepTransition, "_fused_transition", lambda self: None)
    calls.clear()
    steps = run()
    assert set(calls) == {"steps"}
    for a, b in zip(fused, steps, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_fused_gradcheck_with_keep_and_mask():
    cell = _perturbed(DeepTransition(LSTMCell(2, 3, peephole=True, dtype=D), depth=2, skip=True))
    s0 = LSTMState(torch.randn(2, 3, dtype=D, requires_grad=True), torch.randn(2, 3, dtype=D, requires_grad=True))
    x = torch.randn(3, 2, 2, dtype=D, requires_grad=True)
    k = torch.tensor([0.0, 1.0, 0.5], dtype=D).view(3, 1, 1).expand(3, 2, 1)
    mask = torch.tensor([[2.0, 0.0, 2.0], [0.0, 2.0, 2.0]], dtype=D)

    def run(*_):
        ys, state = cell.scan(x, s0, keep=LSTMState(k, k), recurrent_mask=mask)
        return ys, *state

    # gradcheck perturbs its inputs in place, so the cell's own parameters can be the inputs
    assert torch.autograd.gradcheck(run, (x, *s0, *cell.parameters()))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_fused_rnn_gradcheck_with_keep_and_mask(nonlinearity, gradcheck_scan, monkeypatch):
    calls = _paths(monkeypatch, RNNCell)
    inner = RNNCell(2, 3, nonlinearity=nonlinearity, dtype=D)
    assert gradcheck_scan(_perturbed(DeepTransition(inner, 2, torch.sigmoid, skip=True)))
    assert set(calls) == {"fused"}


@pytest.mark.parametrize(
    "make",
    [lambda: LSTMCell(3, 4, layer_norm=True), lambda: RNNCell(3, 4)],
    ids=["lstm-ln", "rnn"],
)
def test_fused_inference_records_nothing_and_equals_training(make, python_loops):
    """Bit for bit through the Python loops (the native ones: tests/kernels/test_native.py)."""
    cell = _perturbed(DeepTransition(make(), 2, torch.relu, skip=True))
    x = torch.randn(5, 2, 3)
    ys, state = cell.scan(x, cell.initial_state(2))
    assert ys.grad_fn is not None
    with torch.no_grad():
        ys_inf, state_inf = cell.scan(x, cell.initial_state(2))
    assert ys_inf.grad_fn is None
    assert torch.equal(ys_inf, ys.detach())
    assert all(torch.equal(a, b.detach()) for a, b in zip(state_leaves(state_inf), state_leaves(state), strict=True))


@pytest.mark.parametrize("activation", [torch.tanh, torch.sigmoid], ids=["tanh", "sigmoid"])
def test_fused_rnn_bfloat16_inference_close_to_float32(activation, monkeypatch):
    """The cell in bfloat16 takes the simple RNN's bfloat16 inference loop with its transition, close to the
    same cell in float32."""
    monkeypatch.setattr(rnn_kernel_module, "BFLOAT16_IN_FLOAT32_PRODUCTS", 0)  # the bfloat16 loop itself
    calls = _paths(monkeypatch, RNNCell)
    cell = _perturbed(DeepTransition(RNNCell(3, 16), 2, activation, skip=True)).bfloat16()
    x = torch.randn(8, 4, 3).bfloat16()
    cell32 = copy.deepcopy(cell).float()
    with torch.no_grad():
        ys, h = cell.scan(x, cell.initial_state(4))
        ys32, h32 = cell32.scan(x.float(), cell32.initial_state(4))
    assert calls == ["fused", "fused"] and ys.dtype == h.dtype == torch.bfloat16
    torch.testing.assert_close(ys.float(), ys32, rtol=0, atol=0.05)
    torch.testing.assert_close(h.float(), h32, rtol=0, atol=0.05)
