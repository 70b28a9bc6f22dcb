import math

import torch

from rnnkit.layers import GRU

F64 = torch.float64

# seed 001's GRU input: 2 steps, a batch of 3, 4 features (time-major)
X_BATCH = [
    [[1, 2, 3, 0], [4, 5, 6, 1], [2, 7, 8, 9]],
    [[1, 0, 0, 1], [1, 1, 0, 0], [1, 1, 1, 1]],
]


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v))


def test_seed_001_gru_by_hand():
    # nn.GRU(4, 2, bias=False) as in seed 001, with weights set so the arithmetic can be done by hand:
    # weight_ih blocks r, z, n = 0.1, -0.1, 0.05; weight_hh blocks r, z, n = 0.5, 1.0, -0.5.
    gru = GRU(4, 2, num_layers=1, bias=False, dtype=F64)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.tensor([0.1, 0.1, -0.1, -0.1, 0.05, 0.05], dtype=F64)[:, None].expand(6, 4))
        gru.weight_hh_l0.copy_(torch.tensor([0.5, 0.5, 1.0, 1.0, -0.5, -0.5], dtype=F64)[:, None].expand(6, 2))
    output, h_n = gru(torch.tensor(X_BATCH, dtype=F64))

    # Both hidden units are equal: h W^T for a block of scale w is w * (h + h).
    want = []
    for b in range(3):
        h, seq = 0.0, []
        for t in range(2):
            s = sum(X_BATCH[t][b])
            r = _sigmoid(0.1 * s + 0.5 * 2 * h)
            z = _sigmoid(-0.1 * s + 1.0 * 2 * h)
            n = math.tanh(0.05 * s + r * (-0.5 * 2 * h))
            h = (1 - z) * n + z * h
            seq.append(h)
        want.append(seq)
    # sequence 0, step 1 (sum 6): r is irrelevant at h = 0; z = sigmoid(-0.6), n = tanh(0.3), h = (1 - z) n
    assert want[0][0] == (1 - _sigmoid(-0.6)) * math.tanh(0.3)
    expected = torch.tensor([[want[b][t] for b in range(3)] for t in range(2)], dtype=F64)  # (T, B)
    torch.testing.assert_close(output, expected[..., None].expand(2, 3, 2), rtol=0, atol=1e-15)
    last = torch.tensor([w[1] for w in want], dtype=F64)
    torch.testing.assert_close(h_n[0, :, 0], last, rtol=0, atol=1e-15)
