"""Time the GRU, simple-RNN and minimal-GRU kernels against torch.nn.GRU, torch.nn.RNN and torch.nn.LSTM.

Each candidate is a whole layer: one input-projection matmul over all steps (oneDNN, through
``kernels.linear``) followed by the kernel. Candidates are run interleaved, round after round, and the
median of the rounds is reported, so that load from other processes on a shared machine hits all alike.

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE python benchmarks/gru_rnn_kernels.py [--rounds 7] [--only gru]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from rnnkit.kernels.gru import gru_scan
from rnnkit.kernels.linear import linear
from rnnkit.kernels.minimal_gru import minimal_gru_scan
from rnnkit.kernels.rnn import rnn_scan

# (name, batch, steps, input size, hidden size, layers, training)
SHAPES = [
    ("B64 T100 I128 H256", 64, 100, 128, 256, 1, True),
    ("B32 T50 I64 H512 x2", 32, 50, 64, 512, 2, True),
    ("B1 T100 I128 H256", 1, 100, 128, 256, 1, False),
]


class Projection(torch.autograd.Function):
    """``x W^T + b`` over all steps at once: forward through oneDNN (``kernels.linear``), backward through
    MKL, whose transposed-operand GEMMs need no copies."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        T, B, I = x.shape
        return linear(x.reshape(T * B, I), weight, bias).view(T, B, -1)  # (T, B, G*H)

    @staticmethod
    def backward(ctx, dxp):
        x, weight = ctx.saved_tensors
        T, B, I = x.shape
        dxp = dxp.reshape(T * B, -1)  # (T*B, G*H)
        dx = torch.mm(dxp, weight).view(T, B, I) if ctx.needs_input_grad[0] else None
        dw = torch.mm(x.reshape(T * B, I).t(), dxp).t()
        return dx, dw, dxp.sum(0)


class KernelLayers(torch.nn.Module):
    """A stack of layers that run ``mode``'s kernel; weights in the torch.nn layout of ``reference``."""

    def __init__(self, reference: torch.nn.Module, mode: str):
        super().__init__()
        self.reference, self.mode = reference, mode

    def forward(self, x):
        ref = self.reference
        for layer in range(ref.num_layers):
            w_ih, w_hh = getattr(ref, f"weight_ih_l{layer}"), getattr(ref, f"weight_hh_l{layer}")
            b_ih, b_hh = getattr(ref, f"bias_ih_l{layer}"), getattr(ref, f"bias_hh_l{layer}")
            h0 = x.new_zeros(x.shape[1], ref.hidden_size)
            if self.mode == "gru":
                H = ref.hidden_size
                b_hn = b_hh[2 * H :]
                b = b_ih + torch.cat([b_hh[: 2 * H], torch.zeros_like(b_hn)])
                x, _ = gru_scan(_project(x, w_ih, b), h0, w_hh, b_hn)
            elif self.mode == "rnn":
                x, _ = rnn_scan(_project(x, w_ih, b_ih + b_hh), h0, w_hh, nonlinearity=ref.nonlinearity)
            else:
                x, _ = minimal_gru_scan(_project(x, w_ih, b_ih + b_hh), h0, w_hh)
        return x


def _project(x, weight, bias):
    if torch.is_grad_enabled():
        return Projection.apply(x, weight, bias)
    T, B, I = x.shape
    return linear(x.reshape(T * B, I), weight, bias).view(T, B, -1)


class MinimalGRUCell(torch.nn.Module):
    """The minimal GRU step written plainly, differentiated by autograd (the baseline a fused kernel must beat)."""

    def __init__(self, reference: torch.nn.Module):
        super().__init__()
        self.reference = reference

    def forward(self, x):
        ref = self.reference
        for layer in range(ref.num_layers):
            w_ih, w_hh = getattr(ref, f"weight_ih_l{layer}"), getattr(ref, f"weight_hh_l{layer}")
            b = getattr(ref, f"bias_ih_l{layer}") + getattr(ref, f"bias_hh_l{layer}")
            T, B, _ = x.shape
            xp = F.linear(x, w_ih, b)
            h, ys = x.new_zeros(B, ref.hidden_size), []
            for xp_t in xp.unbind(0):
                a_u, a_c = (xp_t + h @ w_hh.T).chunk(2, -1)
                gamma_u, c_tilde = torch.sigmoid(a_u), torch.tanh(a_c)
                h = gamma_u * c_tilde + (1 - gamma_u) * h
                ys.append(h)
            x = torch.stack(ys)
        return x


def minimal_gru_weights(H: int, I: int, layers: int) -> torch.nn.Module:
    """An nn.RNN-shaped holder of minimal-GRU weights (2H rows per matrix)."""
    holder = torch.nn.Module()
    holder.num_layers, holder.hidden_size = layers, H
    for layer in range(layers):
        inp = I if layer == 0 else H
        k = H**-0.5
        for name, shape in (("weight_ih", (2 * H, inp)), ("weight_hh", (2 * H, H)), ("bias_ih", (2 * H,)), ("bias_hh", (2 * H,))):
            setattr(holder, f"{name}_l{layer}", torch.nn.Parameter(torch.empty(shape).uniform_(-k, k)))
    return holder


def candidates(I: int, H: int, layers: int) -> dict[str, torch.nn.Module]:
    gru = torch.nn.GRU(I, H, layers)
    rnn = torch.nn.RNN(I, H, layers)
    lstm = torch.nn.LSTM(I, H, layers)
    mgru = minimal_gru_weights(H, I, layers)
    out = {
        "torch.nn.GRU": gru,
        "gru_scan": KernelLayers(gru, "gru"),
        "torch.nn.RNN": rnn,
        "rnn_scan": KernelLayers(rnn, "rnn"),
        "torch.nn.LSTM": lstm,
        "minimal_gru_scan": KernelLayers(mgru, "mgru"),
        "minimal GRU autograd loop": MinimalGRUCell(mgru),
    }
    return out


def run(model, x, train: bool) -> float:
    start = time.perf_counter()
    if train:
        y = model(x)
        y = y[0] if isinstance(y, tuple) else y
        y.sum().backward()
    else:
        with torch.no_grad():
            model(x)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", nargs="*", default=None, help="candidate name substrings to keep")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pairs = [("gru_scan", "torch.nn.GRU"), ("rnn_scan", "torch.nn.RNN"), ("minimal_gru_scan", "torch.nn.LSTM"),
             ("minimal_gru_scan", "minimal GRU autograd loop")]  # fmt: skip
    for name, B, T, I, H, layers, train in SHAPES:
        models = candidates(I, H, layers)
        if args.only:
            models = {k: v for k, v in models.items() if any(s in k for s in args.only)}
        x = torch.randn(T, B, I)
        passes = [("forward", False)] + ([("forward+backward", True)] if train else [])
        for label, grad in passes:
            times = {k: [] for k in models}
            for m in models.values():  # warm-up
                run(m, x, grad)
            for _ in range(args.rounds):
                for k, m in models.items():
                    times[k].append(run(m, x, grad))
            med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
            print(f"\n{name}  {label} (ms over {args.rounds} rounds: median, min)")
            for k, v in med.items():
                print(f"  {k:28s} {v:8.2f} {min(times[k]) * 1e3:8.2f}")
            for a, b in pairs:
                if a in med and b in med:
                    print(f"  ratio {a} / {b}: {med[a] / med[b]:.2f}")


if __name__ == "__main__":
    main()
