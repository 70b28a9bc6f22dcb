import itertools
import math

import pytest
import torch
from torch import nn

from rnnkit.cells import LSTMCell, LSTMState, scan_steps
from rnnkit.cells import lstm as lstm_module
from rnnkit.kernels.transition import Transition

D = torch.float64
OPTIONS = [
    dict(peephole=p, layer_norm=ln, proj_size=pr)
    for p, ln, pr in itertools.product([False, True], [False, True], [0, 2])
]


@pytest.mark.parametrize("bias", [True, False])
def test_matches_torch_cell_both_ways(bias):
    ours = LSTMCell(3, 5, bias, dtype=D)
    ref = nn.LSTMCell(3, 5, bias, dtype=D)
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(4, 3, dtype=D, requires_grad=True)
    state = LSTMState(torch.randn(4, 5, dtype=D), torch.randn(4, 5, dtype=D))
    y, (h, c) = ours(x, state)
    h_ref, c_ref = ref(x, tuple(state))
    assert torch.equal(y, h)
    torch.testing.assert_close(h, h_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(c, c_ref, rtol=0, atol=1e-12)
    g_ours = torch.autograd.grad((h.square() + c).sum(), [x, *ours.parameters()])
    g_ref = torch.autograd.grad((h_ref.square() + c_ref).sum(), [x, *ref.parameters()])
    for a, b in zip(g_ours, g_ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    back = LSTMCell(3, 5, bias, dtype=D)
    back.load_state_dict(ref.state_dict())
    torch.testing.assert_close(back(x, state)[0], y, rtol=0, atol=0)


def test_projection_matches_torch_lstm_proj_size():
    cell = LSTMCell(3, 5, proj_size=2, dtype=D)
    ref = nn.LSTM(3, 5, proj_size=2, dtype=D)
    ref.load_state_dict({f"{k}_l0": v for k, v in cell.state_dict().items()})
    x = torch.randn(6, 4, 3, dtype=D)
    state = LSTMState(torch.randn(4, 2, dtype=D), torch.randn(4, 5, dtype=D))
    ys, (h, c) = cell.scan(x, state)
    ys_ref, (h_ref, c_ref) = ref(x, (state.h[None], state.c[None]))
    assert cell.output_size == 2 and ys.shape == (6, 4, 2)
    torch.testing.assert_close(ys, ys_ref, rtol=0, atol=1e-12)
    torch.testing.assert_close(c, c_ref[0], rtol=0, atol=1e-12)
    assert cell.initial_state(4).h.shape == (4, 2) and cell.initial_state(4).c.shape == (4, 5)


def test_peephole_hand_computed_step():
    # LSTMCell(1, 1, peephole), no bias: weight_ih = [1, 2, 3, 4] (i, f, g, o), weight_hh = 0,
    # peepholes w_ci, w_cf, w_co = 0.5, -1, 2
    cell = LSTMCell(1, 1, bias=False, peephole=True, dtype=D)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor([[1.0], [2.0], [3.0], [4.0]]))
        cell.weight_hh.zero_()
        cell.weight_ci.fill_(0.5)
        cell.weight_cf.fill_(-1.0)
        cell.weight_co.fill_(2.0)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    x, c_prev = 0.3, 0.8
    i = sig(1 * x + 0.5 * c_prev)
    f = sig(2 * x - 1.0 * c_prev)
    g = math.tanh(3 * x)
    c = f * c_prev + i * g
    o = sig(4 * x + 2.0 * c)
    h = o * math.tanh(c)
    s = LSTMState(torch.zeros(1, 1, dtype=D), torch.tensor([[c_prev]], dtype=D))
    y, state = cell(torch.tensor([[x]], dtype=D), s)
    assert state.c.item() == pytest.approx(c, abs=1e-14)
    assert y.item() == pytest.approx(h, abs=1e-14)


def test_zero_peepholes_and_unit_layer_norm_off_are_the_plain_lstm():
    plain = LSTMCell(3, 4, dtype=D)
    peep = LSTMCell(3, 4, peephole=True, dtype=D)
    peep.load_state_dict({**plain.state_dict(), **{f"weight_c{g}": torch.zeros(4, dtype=D) for g in "ifo"}})
    x, s = torch.randn(2, 3, dtype=D), plain.initial_state(2)
    s = LSTMState(torch.randn_like(s.h), torch.randn_like(s.c))
    torch.testing.assert_close(peep(x, s)[1], plain(x, s)[1], rtol=0, atol=0)


def test_layer_norm_is_per_gate_block_and_scale_invariant():
    cell = LSTMCell(3, 4, layer_norm=True, ln_eps=1e-12, dtype=D)
    with torch.no_grad():
        cell.ln_gates_weight.uniform_(0.5, 1.5)
        cell.ln_gates_bias.uniform_(-0.5, 0.5)
    x, s = torch.randn(2, 3, dtype=D), LSTMState(torch.randn(2, 4, dtype=D), torch.randn(2, 4, dtype=D))
    y = cell(x, s)[0]
    shifted = LSTMCell(3, 4, layer_norm=True, ln_eps=1e-12, dtype=D)
    shifted.load_state_dict(cell.state_dict())
    with torch.no_grad():
        shifted.bias_ih[4:8] += 3.0  # one constant over the forget block: removed by that block's mean
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(shifted, name).mul_(2.5)  # the pre-activations scaled: removed by the normalisation
    torch.testing.assert_close(shifted(x, s)[0], y, rtol=0, atol=1e-10)
    changed = LSTMCell(3, 4, layer_norm=True, ln_eps=1e-12, dtype=D)
    changed.load_state_dict(cell.state_dict())
    with torch.no_grad():
        changed.bias_ih[4] += 3.0  # a change that is not constant over the block is not removed
    assert (changed(x, s)[0] - y).abs().max() > 1e-3


def test_forget_bias_initialisation():
    cell = LSTMCell(3, 4, forget_bias=1.0)
    assert cell.bias_ih[4:8].tolist() == [1.0] * 4 and cell.bias_hh[4:8].tolist() == [0.0] * 4
    assert (cell.bias_ih[:4].abs() <= 0.5).all() and cell.bias_ih[:4].abs().sum() > 0
    ln = LSTMCell(3, 4, layer_norm=True, forget_bias=1.0)
    assert ln.ln_gates_bias.tolist() == [0.0] * 4 + [1.0] * 4 + [0.0] * 8
    assert ln.bias_ih[4:8].tolist() == [0.0] * 4 and ln.bias_hh[4:8].tolist() == [0.0] * 4
    assert LSTMCell(3, 4, bias=False, layer_norm=True, forget_bias=1.0).ln_gates_bias[5].item() == 1.0
    with pytest.raises(ValueError, match="forget_bias"):
        LSTMCell(3, 4, bias=False, forget_bias=1.0)
    with pytest.raises(ValueError, match="proj_size"):
        LSTMCell(3, 4, proj_size=4)


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_scan_equals_step_loop_with_keep_and_mask(options, check_scan_equals_step_loop):
    cell = LSTMCell(3, 4, dtype=D, **options)
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.1 * torch.randn_like(p))
    check_scan_equals_step_loop(cell, grad_atol=1e-10)


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_gradcheck_scan_with_keep_and_mask(options, gradcheck_scan):
    cell = LSTMCell(2, 3, dtype=D, **options)
    R = options["proj_size"] or 3
    keep_t = torch.tensor([0.0, 1.0, 0.5], dtype=D).view(3, 1, 1)
    keep = LSTMState(keep_t.expand(3, 2, 1), (1 - keep_t).expand(3, 2, 1))
    mask = (torch.arange(2 * R, dtype=D).view(2, R) % 3 != 0).to(D) * 1.5
    assert gradcheck_scan(cell, keep, mask)


def test_with_input_size_keeps_options():
    cell = LSTMCell(3, 4, bias=False, peephole=True, layer_norm=True, forget_bias=2.0, proj_size=2, ln_eps=1e-3)
    other = cell.with_input_size(6)
    assert other.weight_ih.shape == (16, 6) and other.weight_hh.shape == (16, 2)
    for name in ("hidden_size", "bias", "peephole", "layer_norm", "forget_bias", "proj_size", "ln_eps"):
        assert getattr(other, name) == getattr(cell, name)



def _spy(monkeypatch) -> list[str]:
    """Record, in order, which of the cell's whole-sequence paths ran: torch_lstm, lstm_scan or scan_steps."""
    calls = []
    for name in ("torch_lstm", "lstm_scan", "scan_steps"):
        real = getattr(lstm_module, name)

        def record(*args, _name=name, _real=real, **kwargs):
            calls.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(lstm_module, name, record)
    return calls


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("options", OPTIONS, ids=str)
@pytest.mark.parametrize("with_keep", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
def test_scan_takes_torch_lstm_exactly_for_the_plain_equations(bias, options, with_keep, with_mask, monkeypatch):
    calls = _spy(monkeypatch)
    cell = LSTMCell(3, 4, bias, **options)
    R = options["proj_size"] or 4
    x, state = torch.randn(5, 2, 3), cell.initial_state(2)
    keep = LSTMState(torch.zeros(5, 2, 1), torch.zeros(5, 2, 1)) if with_keep else None
    mask = torch.ones(2, R) if with_mask else None
    cell.scan(x, state, keep=keep, recurrent_mask=mask)
    plain = not options["peephole"] and not options["layer_norm"] and not with_keep and not with_mask
    if plain:
        want = "torch_lstm"
    else:
        want = "scan_steps" if options["proj_size"] else "lstm_scan"
    assert calls == [want]


@pytest.mark.parametrize("batch", [1, 4, 5])
@pytest.mark.parametrize("grad", [False, True])
def test_plain_float32_inference_at_small_batch_takes_the_native_loop(batch, grad, monkeypatch):
    """Below NATIVE_PLAIN_MAX_BATCH (4) float32 inference of the plain equations runs the kernel's native loop,
    faster there than torch.lstm; training and larger batches keep torch.lstm. Both give the same numbers."""
    cell = LSTMCell(3, 6)
    x, state = torch.randn(7, batch, 3), cell.initial_state(batch)
    with torch.set_grad_enabled(grad):
        calls = _spy(monkeypatch)
        ys, (h, c) = cell.scan(x, state)
        assert calls == (["lstm_scan"] if batch <= 4 and not grad else ["torch_lstm"])
        monkeypatch.setattr(lstm_module, "plain_runs_native", lambda *a: False)
        ys_ref, (h_ref, c_ref) = cell.scan(x, state)
    for got, want in ((ys, ys_ref), (h, h_ref), (c, c_ref)):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=2e-6)


def test_plain_bfloat16_inference_keeps_torch_lstm(monkeypatch):
    """torch.lstm's oneDNN bfloat16 LSTM beats the float32 cast the native loop would need."""
    cell = LSTMCell(3, 6).bfloat16()
    calls = _spy(monkeypatch)
    with torch.no_grad():
        cell.scan(torch.randn(7, 1, 3).bfloat16(), cell.initial_state(1))
    assert calls == ["torch_lstm"]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("proj_size", [0, 2])
def test_torch_lstm_path_equals_kernel_outputs_and_gradients(bias, proj_size, monkeypatch):
    """The fused operator and rnnkit's own path (the kernel, or the step loop with a projection) agree."""
    cell = LSTMCell(3, 4, bias, proj_size=proj_size, dtype=D)
    with torch.no_grad():
        for p in cell.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = torch.randn(6, 2, 3, dtype=D, requires_grad=True)
    s0 = LSTMState(torch.randn(2, proj_size or 4, dtype=D, requires_grad=True),
                   torch.randn(2, 4, dtype=D, requires_grad=True))
    inputs = [x, *s0, *cell.parameters()]

    def run() -> list[torch.Tensor]:
        ys, (h, c) = cell.scan(x, s0)
        loss = (ys * ys.detach().cos()).sum() + h.sum() + (c * c.detach().sin()).sum()
        return [ys, h, c, *torch.autograd.grad(loss, inputs)]

    calls = _spy(monkeypatch)
    fused = run()
    monkeypatch.setattr(LSTMCell, "_torch_lstm_computes", lambda self, keep, recurrent_mask: False)
    own = run()
    assert calls == ["torch_lstm", "scan_steps" if proj_size else "lstm_scan"]
    for a, b in zip(fused, own, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def test_torch_lstm_path_in_bfloat16_inference():
    cell = LSTMCell(8, 16)
    x = torch.randn(7, 3, 8)
    with torch.no_grad():
        want, _ = scan_steps(cell, x, cell.initial_state(3))
        low = cell.to(torch.bfloat16)
        ys, (h, c) = low.scan(x.bfloat16(), low.initial_state(3))
    assert ys.dtype == h.dtype == c.dtype == torch.bfloat16
    torch.testing.assert_close(ys.float(), want, rtol=0, atol=0.05)


def test_scan_with_a_transition_runs_the_kernel_even_for_the_plain_equations(monkeypatch):
    """torch.lstm has no transition: the plain LSTM given one runs rnnkit's kernel, which applies it."""
    calls = _spy(monkeypatch)
    cell = LSTMCell(3, 4, dtype=D)
    W = torch.randn(4, 4, dtype=D)
    x, state = torch.randn(5, 2, 3, dtype=D), LSTMState(torch.randn(2, 4, dtype=D), torch.randn(2, 4, dtype=D))
    ys, _ = cell.scan(x, state, transition=Transition((W,), (None,), "sigmoid"))
    assert calls == ["lstm_scan"]
    h, c, want = state.h, state.c, []
    for x_t in x.unbind(0):
        y, (h, c) = cell(x_t, LSTMState(torch.sigmoid(h @ W.T), c))
        want.append(y)
    torch.testing.assert_close(ys, torch.stack(want), rtol=0, atol=1e-12)


def test_scan_with_a_transition_needs_no_projection():
    cell = LSTMCell(3, 4, proj_size=2)
    transition = Transition((torch.zeros(2, 2),), (None,))
    with pytest.raises(ValueError, match="transition needs proj_size=0, got proj_size=2"):
        cell.scan(torch.randn(5, 2, 3), cell.initial_state(2), transition=transition)
