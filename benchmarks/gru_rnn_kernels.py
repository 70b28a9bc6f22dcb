"""Time the GRU, simple-RNN and minimal-GRU kernels against torch.nn.GRU, torch.nn.RNN and torch.nn.LSTM.

A kernel candidate is a stack of layers, each one input-projection matmul over all steps (forward
through oneDNN with ``kernels.linear``, backward through MKL) followed by the kernel. The drop-in layers
``rnnkit.layers.GRU`` / ``RNN`` are timed beside them, and the minimal GRU also against a plain autograd
loop over ``MinimalGRUCell.forward``, the same cell step by step. Candidates run interleaved, round after
round, and the median of the rounds is reported, so that load from other processes on a shared machine
hits all alike. Each run is timed twice: wall-clock, and the CPU time of the (single) computing thread,
which leaves out the time the process waits for a core when the machine is oversubscribed.

    OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE python benchmarks/gru_rnn_kernels.py [--rounds 9] [--only gru]
    ... benchmarks/gru_rnn_kernels.py --matmul     # the per-step products: MKL (torch.mm) vs oneDNN

glibc returns large freed blocks to the system, so every big buffer costs a page fault per 4 KiB on
first touch, a cost that swings with the allocation history of the process. Setting
``MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=17179869184`` in the environment removes it
for all candidates alike. In steady state (after the warm-up round) glibc's adaptive mmap threshold
already recycles most of these blocks: a GRU forward+backward at B64 T100 H256 faults about 2000 pages
(8 MiB) and the RNN none, and the settings moved no ratio beyond the run-to-run noise.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from rnnkit.cells.minimal_gru import MinimalGRUCell
from rnnkit.kernels.gru import gru_scan
from rnnkit.kernels.linear import linear
from rnnkit.kernels.minimal_gru import minimal_gru_scan
from rnnkit.kernels.rnn import rnn_scan
from rnnkit.layers import GRU, RNN

# (name, batch, steps, input size, hidden size, layers, also train)
SHAPES = [
    ("B64 T100 I128 H256", 64, 100, 128, 256, 1, True),
    ("B32 T50 I64 H512 x2", 32, 50, 64, 512, 2, True),
    ("B1 T100 I128 H256", 1, 100, 128, 256, 1, False),
]
RATIOS = [
    ("gru_scan", "torch.nn.GRU"),
    ("rnnkit.layers.GRU", "torch.nn.GRU"),
    ("rnn_scan", "torch.nn.RNN"),
    ("rnnkit.layers.RNN", "torch.nn.RNN"),
    ("minimal_gru_scan", "torch.nn.LSTM"),
    ("minimal_gru_scan", "MinimalGRUCell loop"),
]


class Projection(torch.autograd.Function):
    """``x W^T + b`` over all steps at once: forward through oneDNN (``kernels.linear``), backward through
    MKL, whose transposed-operand products need no copies."""

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


def project(x, weight, bias):
    if torch.is_grad_enabled():
        return Projection.apply(x, weight, bias)
    T, B, I = x.shape
    return linear(x.reshape(T * B, I), weight, bias).view(T, B, -1)


class KernelLayers(torch.nn.Module):
    """Layers of one kernel ("gru", "rnn" or "minimal_gru") on the torch.nn-layout weights of ``weights``."""

    def __init__(self, weights: torch.nn.Module, kernel: str):
        super().__init__()
        self.weights, self.kernel = weights, kernel

    def forward(self, x):
        w = self.weights
        for layer in range(w.num_layers):
            w_ih, w_hh = getattr(w, f"weight_ih_l{layer}"), getattr(w, f"weight_hh_l{layer}")
            b_ih, b_hh = getattr(w, f"bias_ih_l{layer}"), getattr(w, f"bias_hh_l{layer}")
            h0 = x.new_zeros(x.shape[1], w.hidden_size)
            if self.kernel == "gru":
                H = w.hidden_size
                b_hn = b_hh[2 * H :]
                b = b_ih + torch.cat([b_hh[: 2 * H], torch.zeros_like(b_hn)])
                x, _ = gru_scan(project(x, w_ih, b), h0, w_hh, b_hn)
            elif self.kernel == "rnn":
                x, _ = rnn_scan(project(x, w_ih, b_ih + b_hh), h0, w_hh, nonlinearity=w.nonlinearity)
            else:
                x, _ = minimal_gru_scan(project(x, w_ih, b_ih + b_hh), h0, w_hh)
        return x


class MinimalGRUWeights(torch.nn.Module):
    """Minimal-GRU layers as cells, with the weights also under torch.nn names for ``KernelLayers``."""

    def __init__(self, I: int, H: int, layers: int):
        super().__init__()
        self.num_layers, self.hidden_size = layers, H
        self.cells = torch.nn.ModuleList(MinimalGRUCell(I if k == 0 else H, H) for k in range(layers))
        for k, cell in enumerate(self.cells):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                setattr(self, f"{name}_l{k}", getattr(cell, name))


class CellLoop(torch.nn.Module):
    """The minimal GRU run step by step through ``MinimalGRUCell.forward``, differentiated by autograd."""

    def __init__(self, weights: MinimalGRUWeights):
        super().__init__()
        self.weights = weights

    def forward(self, x):
        for cell in self.weights.cells:
            h, ys = x.new_zeros(x.shape[1], cell.hidden_size), []
            for x_t in x.unbind(0):
                y, h = cell(x_t, h)
                ys.append(y)
            x = torch.stack(ys)
        return x


def candidates(I: int, H: int, layers: int) -> dict[str, torch.nn.Module]:
    gru, rnn = torch.nn.GRU(I, H, layers), torch.nn.RNN(I, H, layers)
    mgru = MinimalGRUWeights(I, H, layers)
    return {
        "torch.nn.GRU": gru,
        "gru_scan": KernelLayers(gru, "gru"),
        "rnnkit.layers.GRU": GRU(I, H, layers),
        "torch.nn.RNN": rnn,
        "rnn_scan": KernelLayers(rnn, "rnn"),
        "rnnkit.layers.RNN": RNN(I, H, layers),
        "torch.nn.LSTM": torch.nn.LSTM(I, H, layers),
        "minimal_gru_scan": KernelLayers(mgru, "minimal_gru"),
        "MinimalGRUCell loop": CellLoop(mgru),
    }


def run(model, x, train: bool) -> tuple[float, float]:
    """Wall-clock and thread CPU seconds of one forward (no grad) or forward+backward pass."""
    wall, cpu = time.perf_counter(), time.thread_time()
    if train:
        y = model(x)
        y = y[0] if isinstance(y, tuple) else y
        y.sum().backward()
    else:
        with torch.no_grad():
            model(x)
    return time.perf_counter() - wall, time.thread_time() - cpu


def compare_matmuls(rounds: int) -> None:
    """Thread CPU time of the kernels' products through MKL (``torch.mm``) and oneDNN (``kernels.linear``)."""
    cases = [  # (what, left operand, right operand as (in, out))
        ("step B64 H256 GRU", (64, 256), (256, 768)),
        ("step B32 H512 GRU", (32, 512), (512, 1536)),
        ("step B1 H256 GRU", (1, 256), (256, 768)),
        ("dW_hh T100 B64 H256", (256, 6400), (6400, 768)),
    ]
    print("\nmatmuls (median thread CPU us; GFLOP/s)")
    for what, (n, k), (_, o) in cases:
        a, b = torch.randn(n, k), torch.randn(k, o)
        b_t = b.t().contiguous()  # (out, in) for oneDNN
        if what.startswith("dW"):  # the operands as the backward pass holds them: (T*B, H) and (T*B, G*H)
            h_prev, dg = torch.randn(k, n), torch.randn(k, o)
            fns = {"torch.mm": lambda: torch.mm(h_prev.t(), dg),
                   "kernels.linear": lambda: linear(h_prev.t().contiguous(), dg.t().contiguous())}
        else:
            fns = {"torch.mm": lambda: torch.mm(a, b), "kernels.linear": lambda: linear(a, b_t)}
        reps = 2 if what.startswith("dW") else 100
        times: dict[str, list[float]] = {name: [] for name in fns}
        for _ in range(rounds):
            for name, fn in fns.items():
                start = time.thread_time()
                for _ in range(reps):
                    fn()
                times[name].append((time.thread_time() - start) / reps)
        flops = 2 * n * k * o
        med = {name: statistics.median(v) for name, v in times.items()}
        cells = [f"{name} {sec * 1e6:9.1f} ({flops / sec / 1e9:4.0f})" for name, sec in med.items()]
        print(f"  {what:22s} " + "   ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--only", nargs="*", default=None, help="keep candidates whose name contains one of these")
    parser.add_argument("--matmul", action="store_true", help="compare the matmul engines instead")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.matmul:
        compare_matmuls(args.rounds)
        return
    for name, B, T, I, H, layers, train in SHAPES:
        models = candidates(I, H, layers)
        if args.only:
            models = {k: v for k, v in models.items() if any(s in k for s in args.only)}
        x = torch.randn(T, B, I)
        passes = [("forward, no grad", False)] + ([("forward+backward", True)] if train else [])
        for label, grad in passes:
            times: dict[str, list[tuple[float, float]]] = {k: [] for k in models}
            for m in models.values():  # warm-up
                run(m, x, grad)
            for _ in range(args.rounds):
                for k, m in models.items():
                    times[k].append(run(m, x, grad))
            wall = {k: statistics.median(w for w, _ in v) * 1e3 for k, v in times.items()}
            cpu = {k: statistics.median(c for _, c in v) * 1e3 for k, v in times.items()}
            print(f"\n{name}  {label}  (median ms of {args.rounds} rounds: wall, thread CPU)")
            for k in models:
                print(f"  {k:22s} {wall[k]:8.2f} {cpu[k]:8.2f}")
            for a, b in RATIOS:
                if a in wall and b in wall:
                    print(f"  {a} / {b}: wall {wall[a] / wall[b]:.2f}, CPU {cpu[a] / cpu[b]:.2f}")


if __name__ == "__main__":
    main()
