"""Time kernels.lstm.lstm_scan against torch.nn.LSTM and a plain autograd loop of the same cell.

Run with one thread, e.g. ``OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE python benchmarks/lstm_kernel.py``.
All variants of a shape are timed round-robin in one process, so a busy machine slows them alike;
the table gives medians and ratios to ``torch.nn.LSTM``. The clock is the process's CPU time by
default: on a machine shared with other jobs, wall time also counts the waits for a core.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from rnnkit.kernels.lstm import lstm_scan

SHAPES = {  # name: (batch, steps, input size, hidden size)
    "B64 T100 I128 H256": (64, 100, 128, 256),
    "B32 T50 I64 H512": (32, 50, 64, 512),
    "B1 T100 I128 H256": (1, 100, 128, 256),
}


def loop_lstm(xp, h0, c0, weight_hh, *, weight_ci=None, weight_cf=None, weight_co=None, ln_gates_weight=None,
              ln_gates_bias=None, ln_cell_weight=None, ln_cell_bias=None):  # fmt: skip
    """The cell as a plain autograd loop (the baseline a fused kernel must beat)."""
    H = h0.shape[1]
    h, c, ys = h0, c0, []
    for xp_t in xp.unbind(0):
        a = xp_t + h @ weight_hh.T
        if ln_gates_weight is not None:
            a = F.layer_norm(a.view(-1, 4, H), (H,)).view(-1, 4 * H) * ln_gates_weight + ln_gates_bias
        a_i, a_f, a_g, a_o = a.chunk(4, -1)
        if weight_ci is not None:
            a_i, a_f = a_i + weight_ci * c, a_f + weight_cf * c
        i, f, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g)
        c = f * c + i * g
        if weight_co is not None:
            a_o = a_o + weight_co * c
        o = torch.sigmoid(a_o)
        n = F.layer_norm(c, (H,), ln_cell_weight, ln_cell_bias) if ln_cell_weight is not None else c
        h = o * torch.tanh(n)
        ys.append(h)
    return torch.stack(ys), h, c


def make(shape, variant, dtype=torch.float32):
    """An nn.LSTM (its weights serve every variant), inputs, and the variant's extra parameters.

    Variants: "plain"; "peephole" (w_ci, w_cf, w_co); "layernorm" (on the gates and on the cell).
    """
    B, T, I, H = shape
    lstm = torch.nn.LSTM(I, H).to(dtype)
    x = torch.randn(T, B, I, dtype=dtype)
    h0, c0 = torch.zeros(B, H, dtype=dtype), torch.zeros(B, H, dtype=dtype)
    extra = {}
    if variant == "peephole":
        extra = {k: (torch.randn(H) * 0.1).to(dtype).requires_grad_() for k in ("weight_ci", "weight_cf", "weight_co")}
    if variant == "layernorm":
        extra = {
            "ln_gates_weight": torch.ones(4 * H, dtype=dtype, requires_grad=True),
            "ln_gates_bias": torch.zeros(4 * H, dtype=dtype, requires_grad=True),
            "ln_cell_weight": torch.ones(H, dtype=dtype, requires_grad=True),
            "ln_cell_bias": torch.zeros(H, dtype=dtype, requires_grad=True),
        }
    return lstm, x, h0, c0, extra


def runner(kind, lstm, x, h0, c0, extra, train):
    """One forward (and with ``train`` backward) pass: kind "nn" (torch.nn.LSTM), "kernel" or "loop".

    The kernel and the loop include the input projection (one F.linear), as nn.LSTM does internally.
    """
    w_ih, w_hh = lstm.weight_ih_l0, lstm.weight_hh_l0
    bias = lstm.bias_ih_l0 + lstm.bias_hh_l0 if kind != "nn" else None

    def run():
        with torch.set_grad_enabled(train):
            if kind == "nn":
                ys, _ = lstm(x, (h0[None], c0[None]))
            else:
                xp = F.linear(x, w_ih, bias if train else bias.detach())  # (T, B, 4H)
                fn = lstm_scan if kind == "kernel" else loop_lstm
                ys, _, _ = fn(xp, h0, c0, w_hh, **extra)
            if train:
                ys.sum().backward()

    return run


def bench(cases, repeats, clock):
    times = {name: [] for name in cases}
    for fn in cases.values():
        fn()
    for _ in range(repeats):
        for name, fn in cases.items():
            start = clock()
            fn()
            times[name].append(clock() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES))
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu")
    parser.add_argument("--skip-loop", action="store_true", help="do not time the slow autograd loops")
    args = parser.parse_args()
    torch.manual_seed(0)
    for shape_name in args.shapes:
        shape = SHAPES[shape_name]
        cases = {}
        for variant in ("plain", "peephole", "layernorm"):
            lstm, x, h0, c0, extra = make(shape, variant)
            if variant == "plain":
                cases["train nn.LSTM"] = runner("nn", lstm, x, h0, c0, extra, True)
            cases[f"train kernel {variant}"] = runner("kernel", lstm, x, h0, c0, extra, True)
            if not args.skip_loop:
                cases[f"train loop {variant}"] = runner("loop", lstm, x, h0, c0, extra, True)
        lstm, x, h0, c0, extra = make(shape, "plain")
        cases["infer nn.LSTM"] = runner("nn", lstm, x, h0, c0, extra, False)
        cases["infer kernel fp32"] = runner("kernel", lstm, x, h0, c0, extra, False)
        lstm16, x16, h16, c16, _ = make(shape, "plain", torch.bfloat16)
        cases["infer kernel bf16"] = runner("kernel", lstm16, x16, h16, c16, {}, False)
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        med = bench(cases, args.repeats, clock)
        print(f"\n{shape_name}  (median of {args.repeats}, {args.clock} ms; ratio to nn.LSTM of the same mode)")
        for name, sec in med.items():
            base = med["train nn.LSTM"] if name.startswith("train") else med["infer nn.LSTM"]
            line = f"  {name:26s} {sec * 1e3:9.2f}  x{sec / base:5.2f}"
            variant = name.split()[-1]
            if name.startswith("train kernel") and f"train loop {variant}" in med:
                line += f"   loop/kernel {med[f'train loop {variant}'] / sec:4.2f}"
            if name == "infer kernel bf16":
                line += f"   fp32/bf16 {med['infer kernel fp32'] / sec:4.2f}"
            print(line)


if __name__ == "__main__":
    main()
