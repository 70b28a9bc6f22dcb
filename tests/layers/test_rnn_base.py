"""Parity of the drop-ins with torch.nn over random configurations: outputs, final states, all gradients."""

import random

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import rnnkit.layers as L
from rnnkit.cells import LSTMState

PAIRS = {"RNN": (L.RNN, nn.RNN), "GRU": (L.GRU, nn.GRU), "LSTM": (L.LSTM, nn.LSTM)}
TOL = {torch.float64: 1e-10, torch.float32: 1e-5}
# torch says once that oneDNN has no projected LSTM and it falls back to its own loop: expected here
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")


def _config(mode: str, seed: int) -> dict:
    rng = random.Random(f"{mode}{seed}")
    cfg = dict(
        num_layers=rng.choice([1, 2, 3]),
        bias=rng.random() < 0.8,
        batch_first=rng.random() < 0.5,
        bidirectional=rng.random() < 0.5,
        dtype=rng.choice([torch.float32, torch.float64]),
    )
    if mode == "RNN":
        cfg["nonlinearity"] = rng.choice(["tanh", "relu"])
    if mode == "LSTM" and rng.random() < 0.4:
        cfg["proj_size"] = 2
    run = dict(
        input_size=rng.choice([1, 3, 5]), hidden_size=rng.choice([3, 4, 6]), T=rng.randint(1, 6), B=rng.randint(1, 4),
        packed=rng.choice([None, "sorted", "unsorted"]), with_hx=rng.random() < 0.6,
    )
    return cfg, run


def _hidden(ref: nn.Module, B: int, dtype, mode: str):
    n = ref.num_layers * (2 if ref.bidirectional else 1)
    R = ref.proj_size if mode == "LSTM" and ref.proj_size else ref.hidden_size
    h = torch.randn(n, B, R, dtype=dtype, requires_grad=True)
    if mode != "LSTM":
        return h, [h]
    c = torch.randn(n, B, ref.hidden_size, dtype=dtype, requires_grad=True)
    return (h, c), [h, c]


@pytest.mark.parametrize("mode", list(PAIRS))
@pytest.mark.parametrize("seed", range(12))
def test_random_configuration_matches_torch_nn(mode, seed):
    cfg, run = _config(mode, seed)
    ours_cls, ref_cls = PAIRS[mode]
    ours = ours_cls(run["input_size"], run["hidden_size"], **cfg)
    ref = ref_cls(run["input_size"], run["hidden_size"], **cfg)
    ref.load_state_dict(ours.state_dict())
    T, B, dtype = run["T"], run["B"], cfg["dtype"]
    x = torch.randn(T, B, run["input_size"], dtype=dtype, requires_grad=True)
    hx, hx_leaves = _hidden(ref, B, dtype, mode) if run["with_hx"] else (None, [])
    if run["packed"]:
        lengths = torch.randint(1, T + 1, (B,))
        lengths[0] = T
        if run["packed"] == "sorted":
            lengths = lengths.sort(descending=True).values
        inp = pack_padded_sequence(x, lengths, enforce_sorted=run["packed"] == "sorted")
    else:
        inp = x.transpose(0, 1) if cfg["batch_first"] else x
    out, state = ours(inp, hx)
    out_ref, state_ref = ref(inp, hx)
    assert type(out) is type(out_ref)
    if isinstance(out, PackedSequence):
        assert torch.equal(out.batch_sizes, out_ref.batch_sizes)
        out, out_ref = out.data, out_ref.data
    states = list(state) if mode == "LSTM" else [state]
    states_ref = list(state_ref) if mode == "LSTM" else [state_ref]
    tol = TOL[dtype]
    torch.testing.assert_close(out, out_ref, rtol=tol, atol=tol)
    for s, s_ref in zip(states, states_ref):
        torch.testing.assert_close(s, s_ref, rtol=tol, atol=tol)
    weights = torch.randn_like(out)
    loss = (out * weights).sum() + sum((s * (k + 2)).sum() for k, s in enumerate(states))
    loss_ref = (out_ref * weights).sum() + sum((s * (k + 2)).sum() for k, s in enumerate(states_ref))
    grads = torch.autograd.grad(loss, [x, *hx_leaves, *ours.parameters()], retain_graph=True)
    grads_ref = torch.autograd.grad(loss_ref, [x, *hx_leaves, *ref.parameters()])
    names = ["x", *[f"hx{i}" for i in range(len(hx_leaves))], *[n for n, _ in ours.named_parameters()]]
    for name, g, g_ref in zip(names, grads, grads_ref):
        torch.testing.assert_close(g, g_ref, rtol=tol, atol=tol, msg=lambda m: f"gradient of {name}: {m}")


@pytest.mark.parametrize("mode", list(PAIRS))
def test_state_dict_keys_and_shapes_match_both_ways(mode):
    ours_cls, ref_cls = PAIRS[mode]
    kw = {"proj_size": 2} if mode == "LSTM" else {}
    ours, ref = ours_cls(3, 4, 2, bidirectional=True, **kw), ref_cls(3, 4, 2, bidirectional=True, **kw)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
    back = ours_cls(3, 4, 2, bidirectional=True, **kw)
    back.load_state_dict(ref.state_dict())
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(ref(x)[0], ours(x)[0], rtol=1e-5, atol=1e-5)
    assert [p.shape for p in ours._flat_weights] == [p.shape for p in ref._flat_weights]


@pytest.mark.parametrize("mode", list(PAIRS))
def test_unbatched_input(mode):
    ours_cls, ref_cls = PAIRS[mode]
    ours, ref = ours_cls(3, 4, 2, dtype=torch.float64), ref_cls(3, 4, 2, dtype=torch.float64)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(5, 3, dtype=torch.float64)
    out, state = ours(x)
    out_ref, state_ref = ref(x)
    assert out.shape == (5, 4)
    torch.testing.assert_close(out, out_ref, rtol=0, atol=1e-12)
    hx = (state_ref[0], state_ref[1]) if mode == "LSTM" else state_ref
    torch.testing.assert_close(ours(x, hx)[0], ref(x, hx)[0], rtol=0, atol=1e-12)


def test_lstm_returns_named_state_and_initial_uniform_range():
    m = L.LSTM(3, 4, proj_size=2)
    out, state = m(torch.randn(2, 1, 3))
    assert isinstance(state, LSTMState) and state.h.shape == (1, 1, 2) and state.c.shape == (1, 1, 4)
    h_n, c_n = state  # unpacks as torch.nn's (h_n, c_n)
    assert all(p.abs().max() <= 0.5 for p in m.parameters())
    assert len(m.all_weights) == 1 and len(m.all_weights[0]) == 5


@pytest.mark.filterwarnings("ignore:dropout option adds dropout")  # the single layer below is warned of, as in torch
def test_dropout_acts_between_layers_in_training_only():
    m = L.GRU(3, 8, num_layers=2, dropout=0.5)
    x = torch.randn(4, 2, 3)
    m.eval()
    torch.testing.assert_close(m(x)[0], m(x)[0], rtol=0, atol=0)
    m.train()
    assert not torch.equal(m(x)[0], m(x)[0])
    single = L.GRU(3, 8, num_layers=1, dropout=0.5).train()
    torch.testing.assert_close(single(x)[0], single(x)[0], rtol=0, atol=0)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: L.GRU(3, 4, dropout=1.5), "dropout"),
        (lambda: L.LSTM(3, 4, proj_size=4), "proj_size"),
        (lambda: L.GRU(3, 0), "hidden_size"),
        (lambda: L.RNN(3, 4, nonlinearity="sigmoid"), "nonlinearity"),
        (lambda: L.RNN(3, 4, num_layers=0), "num_layers"),
    ],
)
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_input_and_hidden_shapes():
    m = L.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match="input.size"):
        m(torch.randn(5, 2, 4))
    with pytest.raises(ValueError, match="h_0 of shape"):
        m(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)))
    with pytest.raises(ValueError, match="c_0 of shape"):
        m(torch.randn(5, 2, 3), (torch.zeros(2, 2, 4), torch.zeros(2, 3, 4)))
    with pytest.raises(ValueError, match="4-D"):
        L.GRU(3, 4)(torch.randn(1, 5, 2, 3))


@pytest.mark.parametrize("mode", list(PAIRS))
def test_empty_batch_gives_empty_outputs_as_torch_nn(mode):
    ours_cls, ref_cls = PAIRS[mode]
    ours, ref = ours_cls(3, 4, 2, bidirectional=True), ref_cls(3, 4, 2, bidirectional=True)
    x = torch.randn(5, 0, 3, requires_grad=True)
    out, state = ours(x)
    out_ref, state_ref = ref(x)
    assert out.shape == out_ref.shape == (5, 0, 8)
    for part, part_ref in zip(state if mode == "LSTM" else [state], state_ref if mode == "LSTM" else [state_ref]):
        assert part.shape == part_ref.shape == (4, 0, 4)
    out.sum().backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("mode", list(PAIRS))
@pytest.mark.parametrize("batch_first", [False, True])
def test_empty_sequence_is_refused_by_name(mode, batch_first):
    # torch.nn refuses T = 0 too; the drop-ins all say so in their own words, not with a reshape error
    x = torch.randn(2, 0, 3) if batch_first else torch.randn(0, 2, 3)
    with pytest.raises(ValueError, match="sequence length"):
        PAIRS[mode][0](3, 4, batch_first=batch_first)(x)
    with pytest.raises(ValueError, match="sequence length"):
        PAIRS[mode][0](3, 4)(torch.randn(0, 3))


@pytest.mark.parametrize("mode", list(PAIRS))
def test_dropout_on_one_layer_warns_as_torch_nn(mode):
    ours_cls, ref_cls = PAIRS[mode]
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1") as ours:
        ours_cls(3, 4, dropout=0.5)
    with pytest.warns(UserWarning) as ref:
        ref_cls(3, 4, dropout=0.5)
    assert [str(w.message) for w in ours] == [str(w.message) for w in ref]
    assert ours[0].filename == __file__  # the warning points at the caller's line


@pytest.mark.parametrize("mode", list(PAIRS))
def test_input_of_another_dtype_is_refused_by_name(mode):
    m = PAIRS[mode][0](3, 4)
    with pytest.raises(ValueError, match=r"input dtype \(torch.float64\) does not match weight dtype"):
        m(torch.randn(5, 2, 3, dtype=torch.float64))
    packed = pack_padded_sequence(torch.randn(5, 2, 3, dtype=torch.float64), torch.tensor([5, 3]))
    with pytest.raises(ValueError, match="does not match weight dtype"):
        m(packed)
    assert m.double()(torch.randn(5, 2, 3, dtype=torch.float64))[0].dtype == torch.float64


@pytest.mark.parametrize("mode", list(PAIRS))
def test_hidden_state_batched_as_the_input_or_refused_by_name(mode):
    m = PAIRS[mode][0](3, 4)

    def state(*shape):
        return (torch.zeros(shape), torch.zeros(shape)) if mode == "LSTM" else torch.zeros(shape)

    with pytest.raises(ValueError, match="for unbatched 2-D input, hx should also be 2-D"):
        m(torch.randn(5, 3), state(1, 1, 4))
    with pytest.raises(ValueError, match="for batched 3-D input, hx should also be 3-D"):
        m(torch.randn(5, 2, 3), state(1, 4))
    assert m(torch.randn(5, 3), state(1, 4))[0].shape == (5, 4)
