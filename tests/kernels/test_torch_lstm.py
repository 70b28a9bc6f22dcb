"""kernels.torch_lstm: the one call of PyTorch's fused LSTM operator gives torch.nn.LSTM's results."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from rnnkit.kernels.torch_lstm import torch_lstm

D = torch.float64


@pytest.mark.parametrize(
    "options",
    [
        dict(bias=True),
        dict(bias=False),
        dict(bias=True, proj_size=2),
        dict(bias=True, num_layers=2, bidirectional=True),
    ],
    ids=str,
)
def test_matches_torch_nn_lstm_padded_and_packed(options):
    torch.manual_seed(0)
    ref = nn.LSTM(3, 4, dtype=D, **options)
    n, R = ref.num_layers * (2 if ref.bidirectional else 1), ref.proj_size or 4
    x = torch.randn(5, 2, 3, dtype=D, requires_grad=True)
    h0, c0 = torch.randn(n, 2, R, dtype=D), torch.randn(n, 2, 4, dtype=D)
    kw = dict(bias=ref.bias, num_layers=ref.num_layers, bidirectional=ref.bidirectional)
    out, h, c = torch_lstm(x, h0, c0, ref._flat_weights, **kw)
    out_ref, (h_ref, c_ref) = ref(x, (h0, c0))
    for got, want in zip((out, h, c), (out_ref, h_ref, c_ref)):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    inputs = [x, *ref.parameters()]
    g = torch.autograd.grad(out.square().sum() + c.sum(), inputs)
    g_ref = torch.autograd.grad(out_ref.square().sum() + c_ref.sum(), inputs)
    for got, want in zip(g, g_ref):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)

    packed = pack_padded_sequence(x, torch.tensor([5, 3]))  # already sorted: the state needs no reordering
    data, h, c = torch_lstm(packed.data, h0, c0, ref._flat_weights, batch_sizes=packed.batch_sizes, **kw)
    packed_ref, (h_ref, c_ref) = ref(packed, (h0, c0))
    for got, want in zip((data, h, c), (packed_ref.data, h_ref, c_ref)):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)


def test_projection_runs_without_a_warning():
    # The operator warns once per process that oneDNN has no projection, so only a fresh process can tell.
    code = (
        "import torch, warnings\n"
        "from rnnkit.kernels.torch_lstm import torch_lstm\n"
        "warnings.simplefilter('error')\n"
        "w = [torch.randn(8, 3), torch.randn(8, 1), torch.randn(1, 2)]\n"
        "torch_lstm(torch.randn(4, 2, 3), torch.zeros(1, 2, 1), torch.zeros(1, 2, 2), w, bias=False)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
