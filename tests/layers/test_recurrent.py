import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

from rnnkit.cells import (
    DeepTransition, GRUCell, LSTMCell, LSTMState, MinimalGRUCell, RecurrentCell, RNNCell, map_state, state_leaves,
)
from rnnkit.cells import lstm as lstm_module
from rnnkit.layers import Recurrent
from rnnkit.layers.masks import dropout_mask

D64 = torch.float64


class Leaky(RecurrentCell):
    """A user's cell written against the contract alone: h_t = (1 - a) h_{t-1} + a tanh(W x_t + U h_{t-1})."""

    def __init__(self, input_size, hidden_size, a=0.5):
        super().__init__()
        self.input_size, self.hidden_size, self.a = input_size, hidden_size, a
        self.W = nn.Linear(input_size, hidden_size, dtype=D64)
        self.U = nn.Linear(hidden_size, hidden_size, bias=False, dtype=D64)

    def forward(self, x_t, h):
        h = (1 - self.a) * h + self.a * torch.tanh(self.W(x_t) + self.U(h))
        return h, h


class PairCell(nn.Module):
    """Not a subclass: a duck-typed cell whose state is a plain tuple (h, m) and that builds its own siblings."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.inner = GRUCell(input_size, hidden_size, dtype=D64)

    def initial_state(self, batch_size, *, dtype=None, device=None):
        z = torch.zeros(batch_size, self.hidden_size, dtype=dtype or D64, device=device)
        return (z, z)

    def forward(self, x_t, state):
        h, m = state
        h, _ = self.inner(x_t, h)
        m = torch.maximum(m, h)  # a running maximum of the hidden state
        return h, (h, m)

    def with_input_size(self, n):
        return PairCell(n, self.hidden_size)


def _torch_names(layer: Recurrent, ref: nn.Module) -> None:
    """Copy the weights of a Recurrent made of torch-layout cells into a torch.nn layer."""
    D = layer.num_directions
    state = {}
    for i, cell in enumerate(layer.cells):
        suffix = f"_l{i // D}" + ("_reverse" if i % D else "")
        state.update({f"{k}{suffix}": v for k, v in cell.state_dict().items()})
    ref.load_state_dict(state)


@pytest.mark.parametrize("packed", [False, True])
def test_gru_cells_stacked_bidirectional_match_torch_gru_with_lengths(packed):
    layer = Recurrent(GRUCell(3, 4, dtype=D64), num_layers=2, bidirectional=True)
    ref = nn.GRU(3, 4, num_layers=2, bidirectional=True, dtype=D64)
    _torch_names(layer, ref)
    x = torch.randn(6, 3, 3, dtype=D64, requires_grad=True)
    lengths = torch.tensor([4, 6, 2])
    h0 = torch.randn(4, 3, 4, dtype=D64, requires_grad=True)
    inp = pack_padded_sequence(x, lengths, enforce_sorted=False)
    out_ref, h_ref = ref(inp, h0)
    out, h = layer(inp, h0) if packed else layer(x, h0, lengths=lengths)
    if packed:
        assert isinstance(out, PackedSequence)
        torch.testing.assert_close(out.data, out_ref.data, rtol=0, atol=1e-12)
        out, out_ref = out.data, out_ref.data
    else:
        padded_ref, _ = nn.utils.rnn.pad_packed_sequence(out_ref, total_length=6)
        torch.testing.assert_close(out, padded_ref, rtol=0, atol=1e-12)
        out_ref = padded_ref
    torch.testing.assert_close(h, h_ref, rtol=0, atol=1e-12)
    g = torch.autograd.grad(out.sum() + h.square().sum(), [x, h0, *layer.parameters()], retain_graph=True)
    g_ref = torch.autograd.grad(out_ref.sum() + h_ref.square().sum(), [x, h0, *ref.parameters()])
    by_name = dict(zip([n for n, _ in ref.named_parameters()], g_ref[2:]))
    D = 2
    ours = {}
    for (name, _), grad in zip(layer.named_parameters(), g[2:]):
        i, kind = int(name.split(".")[1]), name.split(".")[2]
        ours[f"{kind}_l{i // D}" + ("_reverse" if i % D else "")] = grad
    for a, b in zip(g[:2], g_ref[:2]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-11)
    for name, grad in by_name.items():
        torch.testing.assert_close(ours[name], grad, rtol=0, atol=1e-11)


def test_projected_lstm_cells_match_torch_lstm_packed():
    layer = Recurrent(LSTMCell(3, 5, proj_size=2, dtype=D64), num_layers=2, bidirectional=True)
    ref = nn.LSTM(3, 5, num_layers=2, bidirectional=True, proj_size=2, dtype=D64)
    _torch_names(layer, ref)
    x = torch.randn(5, 3, 3, dtype=D64)
    inp = pack_padded_sequence(x, torch.tensor([5, 2, 3]), enforce_sorted=False)
    out, state = layer(inp)
    out_ref, (h_ref, c_ref) = ref(inp)
    assert layer.output_size == 4
    torch.testing.assert_close(out.data, out_ref.data, rtol=0, atol=1e-12)
    torch.testing.assert_close(state.h, h_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(state.c, c_ref, rtol=0, atol=1e-12)


CELLS = {
    "lstm-ln-peephole": lambda: LSTMCell(3, 4, layer_norm=True, peephole=True, dtype=D64),
    "gru": lambda: GRUCell(3, 4, dtype=D64),
    "minimal-gru": lambda: MinimalGRUCell(3, 4, dtype=D64),
    "rnn-relu": lambda: RNNCell(3, 4, nonlinearity="relu", dtype=D64),
    "deep-transition": lambda: DeepTransition(LSTMCell(3, 4, dtype=D64), depth=2, skip=True),
    "user-pair-state": lambda: PairCell(3, 4),
}


@pytest.mark.parametrize("make", CELLS.values(), ids=CELLS.keys())
@pytest.mark.parametrize("residual", [False, True])
def test_padded_batch_with_lengths_equals_each_sequence_alone(make, residual):
    layer = Recurrent(make(), num_layers=2, bidirectional=True, batch_first=True, residual=residual)
    x = torch.randn(3, 5, 3, dtype=D64)  # (B, T, I)
    lengths = [5, 2, 4]
    out, state = layer(x, lengths=lengths)
    assert out.shape == (3, 5, 8)
    for b, n in enumerate(lengths):
        alone, alone_state = layer(x[b : b + 1, :n])
        torch.testing.assert_close(out[b : b + 1, :n], alone, rtol=0, atol=1e-12)
        assert not out[b, n:].any()
        for got, want in zip(state_leaves(state), state_leaves(alone_state)):
            torch.testing.assert_close(got[:, b : b + 1], want, rtol=0, atol=1e-12)


def test_user_cell_without_scan_or_with_input_size_runs_from_a_list_of_cells():
    cells = [Leaky(3, 4), Leaky(3, 4), Leaky(8, 4), Leaky(8, 4)]
    layer = Recurrent(cells, bidirectional=True)
    assert layer.num_layers == 2
    x = torch.randn(4, 2, 3, dtype=D64)
    out, h = layer(x, lengths=torch.tensor([4, 3]))

    def run(cell, seq):  # seq: (T, I) of one sequence
        h, ys = torch.zeros(4, dtype=D64), []
        for x_t in seq:
            h = 0.5 * h + 0.5 * torch.tanh(cell.W(x_t) + cell.U(h))
            ys.append(h)
        return torch.stack(ys)

    seq = x[:3, 1]  # the second sequence, 3 steps
    l0 = torch.cat([run(cells[0], seq), run(cells[1], seq.flip(0)).flip(0)], -1)
    l1 = torch.cat([run(cells[2], l0), run(cells[3], l0.flip(0)).flip(0)], -1)
    torch.testing.assert_close(out[:3, 1], l1, rtol=0, atol=1e-12)
    torch.testing.assert_close(h[:, 1], torch.stack([l0[-1, :4], l0[0, 4:], l1[-1, :4], l1[0, 4:]]), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="with_input_size"):
        Recurrent(Leaky(3, 4), num_layers=2)


def test_residual_adds_each_stacked_layers_input():
    cells = [GRUCell(3, 4, dtype=D64), GRUCell(4, 4, dtype=D64), GRUCell(4, 4, dtype=D64)]
    layer = Recurrent(cells, residual=True)
    x = torch.randn(5, 2, 3, dtype=D64)
    u = Recurrent([cells[0]])(x)[0]  # the first layer has no residual (3 -> 4)
    for cell in cells[1:]:
        u = Recurrent([cell])(u)[0] + u
    torch.testing.assert_close(layer(x)[0], u, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="residual"):
        Recurrent([GRUCell(3, 4), LSTMCell(4, 5)], residual=True)


def test_dropout_between_layers_only_in_training():
    layer = Recurrent(GRUCell(3, 6), num_layers=2, dropout=0.5)
    x = torch.randn(4, 2, 3)
    layer.train()
    assert not torch.equal(layer(x)[0], layer(x)[0])
    layer.eval()
    torch.testing.assert_close(layer(x)[0], layer(x)[0], rtol=0, atol=0)
    single = Recurrent(GRUCell(3, 6), dropout=0.5).train()
    torch.testing.assert_close(single(x)[0], single(x)[0], rtol=0, atol=0)


@pytest.mark.parametrize("make", [lambda: LSTMCell(3, 4, dtype=D64), lambda: GRUCell(3, 4, dtype=D64)])
def test_recurrent_dropout_is_one_mask_per_sequence_in_training(make):
    cell = make()
    layer = Recurrent(cell, recurrent_dropout=0.4)
    x = torch.randn(5, 2, 3, dtype=D64)
    s0 = cell.initial_state(2)
    torch.manual_seed(7)
    out = layer(x)[0]
    torch.manual_seed(7)
    mask = dropout_mask(0.4, (2, 4), dtype=D64, device=x.device)
    assert set(mask.unique().tolist()) <= {0.0, 1 / 0.6}
    torch.testing.assert_close(out, cell.scan(x, s0, recurrent_mask=mask)[0], rtol=0, atol=1e-12)
    layer.eval()
    torch.testing.assert_close(layer(x)[0], cell.scan(x, s0)[0], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="recurrent_mask"):
        Recurrent(PairCell(3, 4), recurrent_dropout=0.1)


def test_zoneout_random_in_training_expectation_at_eval():
    cell = LSTMCell(3, 4, dtype=D64)
    layer = Recurrent(cell, zoneout=(0.0, 0.8))
    x = torch.randn(60, 8, 3, dtype=D64)
    layer.eval()
    z = torch.full((60, 8, 1), 0.8, dtype=D64)
    want, want_state = cell.scan(x, cell.initial_state(8), keep=LSTMState(torch.zeros_like(z), z))
    out, state = layer(x)
    torch.testing.assert_close(out, want, rtol=0, atol=1e-12)
    torch.testing.assert_close(state.c[0], want_state.c, rtol=0, atol=1e-12)
    # in training the memory c is held with probability 0.8 per unit and step, h never (z_h = 0)
    layer.train()
    out = layer(x)[0]
    held_h = (out[1:] == out[:-1]).double().mean().item()
    assert held_h == 0.0
    single = Recurrent(cell, zoneout=0.8).train()
    out = single(x)[0]
    held = (out[1:] == out[:-1]).double().mean().item()
    assert 0.75 < held < 0.85
    with pytest.raises(ValueError, match="2 probabilities"):
        Recurrent(GRUCell(3, 4), zoneout=(0.1, 0.2))


def _gradcheck_layer(layer, x, lengths, seed=3):
    params = list(layer.parameters())

    def run(*_):
        torch.manual_seed(seed)  # the same dropout and zoneout masks at every evaluation
        out, state = layer(x, lengths=lengths)
        return (out, *state_leaves(state))

    return torch.autograd.gradcheck(run, (x, *params))


@pytest.mark.parametrize(
    "options",
    [dict(), dict(recurrent_dropout=0.3), dict(zoneout=0.3), dict(zoneout=(0.2, 0.5), recurrent_dropout=0.3)],
    ids=["lengths", "recurrent-dropout", "zoneout", "both"],
)
def test_gradcheck_lstm_layer_with_lengths_and_masks(options):
    layer = Recurrent(LSTMCell(2, 2, dtype=D64), bidirectional=True, **options).train()
    x = torch.randn(3, 2, 2, dtype=D64, requires_grad=True)
    assert _gradcheck_layer(layer, x, [3, 2])


def test_gradcheck_stacked_gru_layer_with_lengths_and_masks():
    layer = Recurrent(GRUCell(2, 2, dtype=D64), num_layers=2, zoneout=0.3, recurrent_dropout=0.3).train()
    x = torch.randn(3, 2, 2, dtype=D64, requires_grad=True)
    assert _gradcheck_layer(layer, x, [1, 3])


def test_state_round_trip_and_shapes():
    layer = Recurrent(LSTMCell(3, 4, proj_size=2), num_layers=3, bidirectional=True)
    x = torch.randn(4, 5, 3)
    out, state = layer(x)
    assert out.shape == (4, 5, 4) and state.h.shape == (6, 5, 2) and state.c.shape == (6, 5, 4)
    with pytest.raises(ValueError, match="state parts"):
        layer(x, map_state(lambda t: t[:2], state))
    forward_only = Recurrent(LSTMCell(3, 4, proj_size=2), num_layers=3)
    first, state = forward_only(x)
    second, _ = forward_only(x, state)  # continuing from the final state is running on
    full, _ = forward_only(torch.cat([x, x]))
    torch.testing.assert_close(second, full[4:], rtol=1e-5, atol=1e-6)


def test_bad_inputs():
    layer = Recurrent(GRUCell(3, 4))
    with pytest.raises(ValueError, match="input must be"):
        layer(torch.randn(4, 2, 5))
    with pytest.raises(ValueError, match=r"lengths\[1\] = 7"):
        layer(torch.randn(4, 2, 3), lengths=[4, 7])
    with pytest.raises(ValueError, match="shape"):
        layer(torch.randn(4, 2, 3), lengths=[4])
    with pytest.raises(TypeError, match="integers"):
        layer(torch.randn(4, 2, 3), lengths=torch.tensor([1.0, 2.0]))
    packed = pack_padded_sequence(torch.randn(4, 2, 3), [4, 2])
    with pytest.raises(ValueError, match="PackedSequence"):
        layer(packed, lengths=[4, 2])
    with pytest.raises(ValueError, match="cells"):
        Recurrent([GRUCell(3, 4)], bidirectional=True)
    with pytest.raises(ValueError, match="input_size"):
        Recurrent([GRUCell(3, 4), GRUCell(5, 4)])
    with pytest.raises(ValueError, match="zoneout"):
        Recurrent(GRUCell(3, 4), zoneout=1.0)


@pytest.mark.parametrize(
    "options, training, lengths, fused",
    [
        ({}, True, None, True),
        ({"recurrent_dropout": 0.3}, False, None, True),  # no mask at evaluation
        ({"recurrent_dropout": 0.3}, True, None, False),
        ({"zoneout": 0.1}, False, None, False),  # keep = z at evaluation
        ({}, False, [4, 2], False),  # lengths hold the state through keep masks
    ],
)
def test_lstm_cells_take_torch_lstm_only_without_masks(options, training, lengths, fused, monkeypatch):
    calls = []
    for name in ("torch_lstm", "lstm_scan"):
        real = getattr(lstm_module, name)
        monkeypatch.setattr(lstm_module, name, lambda *a, _n=name, _r=real, **k: calls.append(_n) or _r(*a, **k))
    layer = Recurrent(LSTMCell(3, 4), num_layers=2, bidirectional=True, **options).train(training)
    layer(torch.randn(4, 2, 3), lengths=lengths)
    assert calls == ["torch_lstm" if fused else "lstm_scan"] * 4


@pytest.mark.parametrize("lengths", [None, [2, 5, 3]])
def test_plain_tuple_state_is_read_as_the_cells_state(lengths):
    # torch.nn.LSTM users pass (h_0, c_0); the cells read state.h and state.c, so the layer rebuilds it
    layer = Recurrent(LSTMCell(3, 4, dtype=D64), num_layers=2, bidirectional=True)
    x, h, c = torch.randn(5, 3, 3, dtype=D64), torch.randn(4, 3, 4, dtype=D64), torch.randn(4, 3, 4, dtype=D64)
    out, state = layer(x, (h, c), lengths=lengths)
    out_named, state_named = layer(x, LSTMState(h, c), lengths=lengths)
    torch.testing.assert_close(out, out_named, rtol=0, atol=0)
    assert isinstance(state, LSTMState)
    torch.testing.assert_close(tuple(state), tuple(state_named), rtol=0, atol=0)
    with pytest.raises(ValueError, match="the state has 1 part"):
        layer(x, h)
