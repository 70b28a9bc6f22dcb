import math

import torch

from rnnkit.cells import LSTMCell, LSTMState
from rnnkit.layers import LSTM, Recurrent

# seed 001's LSTM input: 2 steps, a batch of 3, 4 features (time-major)
X_BATCH = [
    [[1, 2, 3, 0], [4, 5, 6, 1], [2, 7, 8, 9]],
    [[1, 0, 0, 1], [1, 1, 0, 0], [1, 1, 1, 1]],
]


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def _seed_001_by_hand() -> tuple[list[list[float]], list[float]]:
    """h_t of each sequence and c_T, with weight_ih blocks 1, 2, 3, 4 and weight_hh blocks 0.5, 1, 1.5, 2.

    Both hidden units are equal, so h W_hh^T for a block of scale w is w * (h + h) = 2 w h.
    """
    hs, cs = [], []
    for b in range(3):
        h = c = 0.0
        seq = []
        for t in range(2):
            s = sum(X_BATCH[t][b])
            i = _sigmoid(1 * s + 0.5 * 2 * h)
            f = _sigmoid(2 * s + 1.0 * 2 * h)
            g = math.tanh(3 * s + 1.5 * 2 * h)
            o = _sigmoid(4 * s + 2.0 * 2 * h)
            c = f * c + i * g
            h = o * math.tanh(c)
            seq.append(h)
        hs.append(seq)
        cs.append(c)
    return hs, cs


def _seed_weights(module, suffix=""):
    with torch.no_grad():
        w_ih = torch.ones(8, 4)
        w_hh = 0.5 * torch.ones(8, 2)
        for k in range(4):  # blocks i, f, g, o scaled 1, 2, 3, 4
            w_ih[2 * k : 2 * k + 2] *= k + 1
            w_hh[2 * k : 2 * k + 2] *= k + 1
        getattr(module, "weight_ih" + suffix).copy_(w_ih)
        getattr(module, "weight_hh" + suffix).copy_(w_hh)


def test_seed_001_lstm_by_hand():
    lstm = LSTM(4, 2, num_layers=1, bias=False)
    _seed_weights(lstm, "_l0")
    hs, cs = _seed_001_by_hand()
    # step 1 of sequence 0 (sum 6): c = sigmoid(6) tanh(18), h = sigmoid(24) tanh(c)
    assert hs[0][0] == _sigmoid(24) * math.tanh(_sigmoid(6) * math.tanh(18))
    x = torch.tensor(X_BATCH, dtype=torch.float32)
    zeros = torch.zeros(1, 3, 2)
    output, (h_n, c_n) = lstm(x, (zeros, zeros))
    want = torch.tensor([[hs[b][t] for b in range(3)] for t in range(2)])  # (T, B)
    torch.testing.assert_close(output, want[..., None].expand(2, 3, 2), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(h_n[0], want[1][:, None].expand(3, 2), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(c_n[0], torch.tensor(cs)[:, None].expand(3, 2), rtol=1e-6, atol=1e-6)

    # the same numbers from the cell and from Recurrent(cell), through the fused kernel
    cell = LSTMCell(4, 2, bias=False)
    _seed_weights(cell)
    ys, state = Recurrent(cell)(x)
    torch.testing.assert_close(ys, output, rtol=1e-6, atol=1e-6)
    assert isinstance(state, LSTMState)
    torch.testing.assert_close(state.c, c_n, rtol=1e-6, atol=1e-6)
