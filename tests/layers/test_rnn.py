import torch

from rnnkit.layers import RNN

# seed 001's input: 3 steps, a batch of 3, 4 features (time-major)
X_BATCH = [
    [[1, 2, 3, 0], [4, 5, 6, 1], [2, 7, 8, 9]],
    [[1, 2, 3, 0], [4, 5, 6, 1], [2, 7, 8, 9]],
    [[1, 0, 0, 1], [1, 1, 0, 0], [1, 1, 1, 1]],
]


def test_seed_001_bidirectional_relu_rnn_by_hand():
    # nn.RNN(4, 2, relu, bias=False, bidirectional): forward weight_ih = 1, weight_hh = 0.5; reverse both 0.5.
    rnn = RNN(4, 2, num_layers=1, nonlinearity="relu", bias=False, bidirectional=True)
    with torch.no_grad():
        rnn.weight_ih_l0.fill_(1.0)
        rnn.weight_hh_l0.fill_(0.5)
        rnn.weight_ih_l0_reverse.fill_(0.5)
        rnn.weight_hh_l0_reverse.fill_(0.5)
    output, h_n = rnn(torch.tensor(X_BATCH, dtype=torch.float32), torch.zeros(2, 3, 2))

    # Both hidden units get the same input, so each direction is one number per step:
    # h_t = relu(w_ih * sum(x_t) + w_hh * (h + h)).
    forward, backward = [], []
    for b in range(3):
        sums = [sum(X_BATCH[t][b]) for t in range(3)]
        h, hs = 0.0, []
        for s in sums:
            h = max(0.0, 1.0 * s + 0.5 * (h + h))
            hs.append(h)
        forward.append(hs)
        h, hs = 0.0, []
        for s in reversed(sums):
            h = max(0.0, 0.5 * s + 0.5 * (h + h))
            hs.append(h)
        backward.append(hs[::-1])
    # e.g. sequence 0 sums to 6, 6, 2: forward 6, 6 + 6 = 12, 2 + 12 = 14; backward 1, 3 + 1 = 4, 3 + 4 = 7
    assert forward[0] == [6.0, 12.0, 14.0] and backward[0] == [7.0, 4.0, 1.0]
    assert forward[2] == [26.0, 52.0, 56.0] and backward[2] == [28.0, 15.0, 2.0]
    for t in range(3):
        for b in range(3):
            assert output[t, b].tolist() == [forward[b][t]] * 2 + [backward[b][t]] * 2
    assert h_n[0].tolist() == [[forward[b][2]] * 2 for b in range(3)]
    assert h_n[1].tolist() == [[backward[b][0]] * 2 for b in range(3)]


def test_stacked_layers_feed_the_concatenated_directions_upward():
    # two layers, bidirectional, all weights 0.1, relu: the second layer sees [fwd; bwd] of the first
    rnn = RNN(1, 1, num_layers=2, nonlinearity="relu", bias=False, bidirectional=True, dtype=torch.float64)
    with torch.no_grad():
        for p in rnn.parameters():
            p.fill_(0.1)
    xs = [1.0, 2.0, 3.0]
    output, _ = rnn(torch.tensor(xs, dtype=torch.float64).view(3, 1, 1))

    def run(inputs, w_in):
        h, hs = 0.0, []
        for u in inputs:
            h = max(0.0, w_in * u + 0.1 * h)
            hs.append(h)
        return hs

    f1, b1 = run(xs, 0.1), run(xs[::-1], 0.1)[::-1]
    layer2_in = [f + b for f, b in zip(f1, b1)]  # weight_ih_l1 rows are 0.1 over both halves
    f2, b2 = run(layer2_in, 0.1), run(layer2_in[::-1], 0.1)[::-1]
    torch.testing.assert_close(output[:, 0], torch.tensor([f2, b2], dtype=torch.float64).T, rtol=0, atol=1e-15)
