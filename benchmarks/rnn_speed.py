"""Speed of rnnkit's layers and cells against ``torch.nn`` and against plain autograd loops of the same cells.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/rnn_speed.py [--threads 1] [--repeats 9]
        [--only lstm peephole ...] [--shapes train1 train2 infer] [--bf16] [--clock wall|cpu] [--quick]

What one run measures, all in one process:

- Every row of a shape (rnnkit's module, the ``torch.nn`` layer it is compared with, and the same cells run
  as a plain autograd loop) is timed once per round; the order is shuffled every round and the table gives
  medians over the rounds. Ratios are medians of the per-round ratios, so that load from other processes on
  a shared machine, which comes and goes, slows the two sides of a ratio alike. The process's CPU time over
  the wall time of the rounds is printed per shape: with one thread, well below 1 means other processes
  held the cores and the times are inflated; ``--clock cpu`` then times on the process's CPU time instead.
- Training shapes time one training step: ``fwd`` is the forward pass with autograd recording (module in
  training mode, input requiring grad), ``f+b`` the forward pass plus ``output.sum().backward()``. The
  inference shape (batch 1) times the forward pass only, under ``torch.no_grad()`` in evaluation mode.
- Achieved GFLOP/s count the FLOPs of the matrix products of the cells only (input projection, recurrent
  product, deep-transition layers; 2 per multiply-add); gate nonlinearities, layer norms and masks are not
  counted. A training step counts 3x the forward products (forward, input gradients, weight gradients).
  The share is of this machine's peak fp32 matmul, measured in the same run (before and after the rows,
  best of both) through oneDNN (``torch.ops.mkldnn._linear_pointwise``) and through MKL (``torch.mm``);
  the higher of the two is the peak.
- ``--bf16`` adds inference rows with the module and its input in bfloat16 (``module.to(torch.bfloat16)``:
  ``LSTM`` runs PyTorch's fused operator in bfloat16; the cells' kernels run their recurrent products in
  bfloat16 through oneDNN with the state in float32), compared with the same module in float32 inference.

Targets (PASS/MISS beside each row): the ``torch.nn``-supported LSTM configurations within 1.05x of
``torch.nn.LSTM`` (fwd and f+b); GRU and RNN at most 0.7x of ``torch.nn.GRU``/``torch.nn.RNN`` (fwd and
f+b); every other cell or option at most 1.3x ``torch.nn.LSTM`` in f+b and at least 2x faster than its
autograd loop; bfloat16 inference at least 1.5x faster than float32. The inference shape has no backward
pass, so there the targets apply to fwd.
"""

from __future__ import annotations

import os

# Before torch is imported: idle OpenMP threads must sleep, not spin, on cores shared with other processes.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import copy  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402

import rnnkit  # noqa: E402
from rnnkit.cells import DeepTransition, GRUCell, LSTMCell, MinimalGRUCell, RNNCell  # noqa: E402
from rnnkit.cells.base import cell_output  # noqa: E402
from rnnkit.cells.state import State, state_leaves, unflatten_state  # noqa: E402
from rnnkit.kernels.linear import onednn_available  # noqa: E402
from rnnkit.layers import GRU, LSTM, RNN, Recurrent  # noqa: E402
from rnnkit.layers.masks import dropout_mask  # noqa: E402

RECURRENT_DROPOUT = 0.25
ZONEOUT = 0.1
BF16_SPEEDUP = 1.5  # bfloat16 inference must be at least this much faster than float32
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


@dataclasses.dataclass(frozen=True)
class Shape:
    """One problem size. ``training=False``: inference latency, forward pass only."""

    key: str
    batch: int
    steps: int
    input_size: int
    hidden_size: int
    layers: int
    training: bool

    @property
    def label(self) -> str:
        mode = "train" if self.training else "inference"
        return (f"B{self.batch} T{self.steps} I{self.input_size} H{self.hidden_size} "
                f"L{self.layers} ({mode})")


SHAPES = (
    Shape("train1", 64, 100, 128, 256, 1, True),
    Shape("train2", 32, 50, 64, 512, 2, True),
    Shape("infer", 1, 100, 128, 256, 1, False),
)
# --quick: the same kinds of shapes, tiny, so that every row runs in a fraction of a second.
QUICK_SHAPES = (
    Shape("train1", 4, 6, 8, 16, 1, True),
    Shape("train2", 3, 5, 8, 16, 2, True),
    Shape("infer", 1, 6, 8, 16, 1, False),
)


@dataclasses.dataclass(frozen=True)
class Variant:
    """A row: an rnnkit module, the ``torch.nn`` layer it is compared with, and its target.

    ``target`` is ``"torch"`` for configurations ``torch.nn`` has (ratio to it at most ``limit`` in fwd and
    f+b) or ``"other"`` (f+b at most ``limit`` x ``torch.nn.LSTM`` and at most half its autograd loop).
    ``gates`` and ``transitions`` give the matmul FLOPs: G gate blocks of H rows, and H x H
    deep-transition layers per step.
    """

    key: str
    label: str
    reference: str
    build: Callable[[Shape], nn.Module]
    gates: int
    target: str
    limit: float
    transitions: int = 0
    cells: bool = True  # runs cells through Recurrent, so a step loop of the same cells exists
    min_layers: int = 1  # residual connections join stacked layers: none with one layer
    training_only: bool = False  # recurrent dropout is off at evaluation: the row would be the plain one


def _recurrent(make_cell: Callable[[int, int], nn.Module], **options) -> Callable[[Shape], nn.Module]:
    def build(s: Shape) -> nn.Module:
        return Recurrent(make_cell(s.input_size, s.hidden_size), num_layers=s.layers, **options)

    return build


def _layer(cls: type[nn.Module]) -> Callable[[Shape], nn.Module]:
    return lambda s: cls(s.input_size, s.hidden_size, num_layers=s.layers)


VARIANTS = (
    Variant("lstm", "LSTM", "LSTM", _layer(LSTM), 4, "torch", 1.05, cells=False),
    Variant("lstm_cell", "Recurrent(LSTMCell)", "LSTM", _recurrent(LSTMCell), 4, "torch", 1.05),
    Variant("gru", "GRU", "GRU", _layer(GRU), 3, "torch", 0.7, cells=False),
    Variant("gru_cell", "Recurrent(GRUCell)", "GRU", _recurrent(GRUCell), 3, "torch", 0.7),
    Variant("rnn", "RNN", "RNN", _layer(RNN), 1, "torch", 0.7, cells=False),
    Variant("rnn_cell", "Recurrent(RNNCell)", "RNN", _recurrent(RNNCell), 1, "torch", 0.7),
    Variant("peephole", "LSTMCell peephole", "LSTM",
            _recurrent(lambda i, h: LSTMCell(i, h, peephole=True)), 4, "other", 1.3),
    Variant("layer_norm", "LSTMCell layer_norm", "LSTM",
            _recurrent(lambda i, h: LSTMCell(i, h, layer_norm=True)), 4, "other", 1.3),
    Variant("minimal_gru", "MinimalGRUCell", "LSTM", _recurrent(MinimalGRUCell), 2, "other", 1.3),
    Variant("deep_transition", "DeepTransition(LSTMCell)", "LSTM",
            _recurrent(lambda i, h: DeepTransition(LSTMCell(i, h), depth=1)), 4, "other", 1.3, transitions=1),
    Variant("residual", "LSTMCell residual", "LSTM", _recurrent(LSTMCell, residual=True), 4, "other", 1.3,
            min_layers=2),
    Variant("recurrent_dropout", f"LSTMCell rec.dropout {RECURRENT_DROPOUT}", "LSTM",
            _recurrent(LSTMCell, recurrent_dropout=RECURRENT_DROPOUT), 4, "other", 1.3, training_only=True),
    Variant("zoneout", f"LSTMCell zoneout {ZONEOUT}", "LSTM", _recurrent(LSTMCell, zoneout=ZONEOUT), 4,
            "other", 1.3),
)
VARIANT_KEYS = tuple(v.key for v in VARIANTS)
# bfloat16 inference rows: the layers and the LSTM kernel, whose bfloat16 mode is documented in kernels/lstm.py.
BF16_KEYS = ("lstm", "lstm_cell", "gru", "rnn")
TORCH_LAYERS = {"LSTM": nn.LSTM, "GRU": nn.GRU, "RNN": nn.RNN}
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


class StepLoop(nn.Module):
    """The cells of a unidirectional ``Recurrent`` run as a plain autograd loop: ``cell.forward`` once per step.

    The baseline a fused scan must beat: the same cells and weights, the same recurrent dropout, zoneout
    and residual connections, but each step's input product and gate arithmetic recorded op by op.
    """

    def __init__(self, layer: Recurrent) -> None:
        super().__init__()
        if layer.num_directions != 1 or layer.dropout:
            raise ValueError("StepLoop runs unidirectional layers without dropout between layers")
        self.layer = layer

    def forward(self, x: Tensor) -> tuple[Tensor, State]:
        layer, u = self.layer, x
        for l, cell in enumerate(layer.cells):
            state = cell.initial_state(x.shape[1], dtype=x.dtype, device=x.device)
            extra = {}
            if layer.recurrent_dropout and self.training:
                h_shape = tuple(state_leaves(state)[0].shape)
                extra["recurrent_mask"] = dropout_mask(layer.recurrent_dropout, h_shape, dtype=x.dtype, device=x.device)
            ys = []
            for u_t in u.unbind(0):
                y_t, new_state = cell(u_t, state, **extra)
                if any(layer.zoneout):
                    state = self._zoneout(state, new_state)
                    y_t = cell_output(cell, state)
                else:
                    state = new_state
                ys.append(y_t)
            y = torch.stack(ys)  # (T, B, H)
            u = y + u if layer.residual and l > 0 else y
        return u, state

    def _zoneout(self, state: State, new_state: State) -> State:
        """``s_t = k * s_{t-1} + (1 - k) * s~_t``, k ~ Bernoulli(z) per unit in training, k = z at evaluation."""
        leaves, new_leaves = state_leaves(state), state_leaves(new_state)
        probs = self.layer.zoneout * len(leaves) if len(self.layer.zoneout) == 1 else self.layer.zoneout
        mixed = []
        for p, s, s_new in zip(probs, leaves, new_leaves):
            k = torch.bernoulli(torch.full_like(s, p)) if self.training else p
            mixed.append(k * s + (1 - k) * s_new)
        return unflatten_state(new_state, mixed)


@dataclasses.dataclass
class Case:
    """One timed thing: a module, its input, and whether it runs a training step or inference."""

    module: nn.Module
    x: Tensor
    training: bool
    clock: Callable[[], float] = time.perf_counter

    def run(self) -> tuple[float, float | None]:
        """Seconds of ``(fwd, f+b)`` on ``clock``; f+b is None for inference."""
        self.module.train(self.training)
        if not self.training:
            with torch.no_grad():
                start = self.clock()
                self.module(self.x)
                return self.clock() - start, None
        start = self.clock()
        out = self.module(self.x)[0]
        mid = self.clock()
        out.sum().backward()
        end = self.clock()
        self.module.zero_grad(set_to_none=True)
        self.x.grad = None
        return mid - start, end - start


@dataclasses.dataclass
class Row:
    """One line of the table. Times in seconds; ratios are rnnkit / reference (lower is faster)."""

    shape: str
    key: str
    label: str
    reference: str
    fwd: float
    fwd_bwd: float | None
    ratio_fwd: float | None
    ratio_fwd_bwd: float | None
    ratio_loop: float | None
    tokens_per_s: float
    gflops: float
    peak_share: float | None
    target: str = ""
    passed: bool | None = None
    missed: list[str] = dataclasses.field(default_factory=list)  # the limits missed: fwd, f+b, ref, loop


@dataclasses.dataclass
class Report:
    """Everything a run measured: the environment, the peaks, and the rows of every shape."""

    header: list[str]
    peaks: dict[str, float]
    rows: list[Row] = dataclasses.field(default_factory=list)
    footer: list[str] = dataclasses.field(default_factory=list)
    cpu_shares: dict[str, float] = dataclasses.field(default_factory=dict)  # per shape, see ``measure``


def matmul_flops(shape: Shape, gates: int, transitions: int = 0) -> float:
    """FLOPs of the matrix products of one forward pass: 2 per multiply-add.

    Per layer and step: the input projection (G*H x I_l), the recurrent product (G*H x H) and any
    deep-transition layers (H x H); ``I_l`` is the input size for the first layer and H above it.
    """
    B, T, H = shape.batch, shape.steps, shape.hidden_size
    total = 0.0
    for layer in range(shape.layers):
        fan_in = shape.input_size if layer == 0 else H
        total += 2.0 * B * T * (gates * H * (fan_in + H) + transitions * H * H)
    return total


def peak_gflops(size: int, repeats: int, clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """The best fp32 GFLOP/s of a (size x size) @ (size x size) product through oneDNN and through ``torch.mm``."""
    a = torch.randn(size, size)
    w = torch.randn(size, size)
    engines: dict[str, Callable[[], Tensor]] = {"torch.mm": lambda: torch.mm(a, w)}
    if onednn_available():
        engines["oneDNN"] = lambda: torch.ops.mkldnn._linear_pointwise(a, w, None, "none", [], "")
    flops = 2.0 * size**3
    best = {}
    for name, fn in engines.items():
        fn()
        times = []
        for _ in range(repeats):
            start = clock()
            fn()
            times.append(clock() - start)
        best[name] = flops / min(times) / 1e9
    return best


def build_cases(shape: Shape, keys: Sequence[str], bf16: bool) -> tuple[dict[str, Case], list[Variant]]:
    """Every module to time for ``shape``: the chosen rows, their ``torch.nn`` references and loops."""
    s = shape
    variants = [v for v in VARIANTS if v.key in keys and s.layers >= v.min_layers
                and not (v.training_only and not s.training)]
    x = torch.randn(s.steps, s.batch, s.input_size, requires_grad=s.training)  # (T, B, I)
    cases: dict[str, Case] = {}
    references: dict[str, nn.Module] = {}
    for v in variants:
        if v.reference not in references:
            references[v.reference] = TORCH_LAYERS[v.reference](s.input_size, s.hidden_size, num_layers=s.layers)
            cases[f"torch.nn.{v.reference}"] = Case(references[v.reference], x, s.training)
        module = v.build(s)
        if not v.cells:
            module.load_state_dict(references[v.reference].state_dict())  # the drop-in takes torch.nn's weights
        cases[v.key] = Case(module, x, s.training)
        if v.cells:
            cases[f"{v.key} loop"] = Case(StepLoop(module), x, s.training)
        if bf16 and v.key in BF16_KEYS:
            x_infer = x.detach()
            cases[f"{v.key} fp32 infer"] = Case(copy.deepcopy(module), x_infer, False)
            cases[f"{v.key} bf16 infer"] = Case(copy.deepcopy(module).to(torch.bfloat16), x_infer.bfloat16(), False)
    return cases, variants


def measure(cases: dict[str, Case], repeats: int, seed: int = 0) -> tuple[dict[str, list], float]:
    """Run every case once to warm up, then ``repeats`` rounds of all cases in a shuffled order.

    Returns each case's ``(fwd, f+b)`` per round and the process's CPU time over the wall time of the
    rounds: below 1 (one thread) when other processes took the cores part of the time.
    """
    order = list(cases)
    for name in order:
        cases[name].run()
    times: dict[str, list[tuple[float, float | None]]] = {name: [] for name in order}
    rng = random.Random(seed)
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        rng.shuffle(order)
        gc.collect()
        for name in order:
            times[name].append(cases[name].run())
    return times, (time.process_time() - cpu) / (time.perf_counter() - wall)


def _total(sample: tuple[float, float | None]) -> float:
    """The time a row is judged on: f+b in training, fwd in inference."""
    return sample[1] if sample[1] is not None else sample[0]


def _median_ratio(a: list[float], b: list[float]) -> float:
    return statistics.median(x / y for x, y in zip(a, b))


def shape_rows(shape: Shape, variants: list[Variant], times, peak: float, bf16: bool) -> list[Row]:
    """The table rows of one shape from its timings: references first, then rnnkit's rows, then bfloat16."""
    s = shape

    def row(name: str, label: str, reference: str, flops: float, ref_name: str | None, training: bool) -> Row:
        samples, ref = times[name], times[ref_name] if ref_name is not None else None
        fwd = statistics.median(t[0] for t in samples)
        fb = statistics.median(t[1] for t in samples) if training else None
        total = fb if fb is not None else fwd
        ratio_fwd = ratio_fb = None
        if ref is not None:
            ratio_fwd = _median_ratio([t[0] for t in samples], [t[0] for t in ref])
            if training:
                ratio_fb = _median_ratio([t[1] for t in samples], [t[1] for t in ref])
        passes = 3.0 if training else 1.0  # forward; input gradients; weight gradients
        gflops = flops * passes / total / 1e9
        label_shape = s.label if training == s.training else dataclasses.replace(s, training=training).label
        return Row(label_shape, name, label, reference, fwd, fb, ratio_fwd, ratio_fb, None,
                   s.batch * s.steps / total, gflops, gflops / peak)

    rows: list[Row] = []
    for reference in dict.fromkeys(v.reference for v in variants):
        name = f"torch.nn.{reference}"
        rows.append(row(name, name, "-", matmul_flops(s, GATES[reference]), None, s.training))
    for v in variants:
        r = row(v.key, v.label, f"torch.nn.{v.reference}", matmul_flops(s, v.gates, v.transitions),
                f"torch.nn.{v.reference}", s.training)
        if v.cells:
            r.ratio_loop = _median_ratio([_total(t) for t in times[v.key]], [_total(t) for t in times[f"{v.key} loop"]])
        _judge(r, v, s.training)
        rows.append(r)
    for v in variants if bf16 else ():
        if v.key in BF16_KEYS:
            flops = matmul_flops(s, v.gates)
            fp32_name = f"{v.key} fp32 infer"
            rows.append(row(fp32_name, f"{v.label} fp32", "-", flops, None, False))
            low = row(f"{v.key} bf16 infer", f"{v.label} bf16", f"{v.label} fp32", flops, fp32_name, False)
            low.peak_share = None  # a share of the fp32 peak says nothing about bfloat16
            low.target = f"ref<={1 / BF16_SPEEDUP:.2f}"
            low.missed = [] if low.ratio_fwd <= 1 / BF16_SPEEDUP else ["ref"]
            low.passed = not low.missed
            rows.append(low)
    return rows


def _judge(r: Row, v: Variant, training: bool) -> None:
    """Fill in the row's target, PASS/MISS and which of its limits it missed (see the module docstring)."""
    if v.target == "torch":
        r.target = f"ref<={v.limit:.2f}"
        checks = {"fwd": r.ratio_fwd} | ({"f+b": r.ratio_fwd_bwd} if training else {})
        r.missed = [name for name, q in checks.items() if q > v.limit]
    else:
        r.target = f"ref<={v.limit:.2f} loop<=0.50"
        judged = r.ratio_fwd_bwd if training else r.ratio_fwd
        r.missed = (["ref"] if judged > v.limit else []) + (["loop"] if r.ratio_loop > 0.5 else [])
    r.passed = not r.missed


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit() -> str:
    """The commit of the checkout, marked when the library's sources differ from it."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                              cwd=root).stdout.strip()
        changed = subprocess.run(["git", "status", "--porcelain", "--", "src"], capture_output=True, text=True,
                                 timeout=10, cwd=root).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not head:
        return "unknown"
    return f"{head} with uncommitted changes in src/" if changed else head


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds per shape (default 9)")
    parser.add_argument("--only", nargs="+", choices=VARIANT_KEYS, default=list(VARIANT_KEYS), metavar="ROW",
                        help=f"rows to run, of: {' '.join(VARIANT_KEYS)} (their torch.nn references come along)")
    parser.add_argument("--shapes", nargs="+", choices=[s.key for s in SHAPES], default=[s.key for s in SHAPES],
                        help="shapes to run (default all)")
    parser.add_argument("--clock", choices=list(CLOCKS), default="wall",
                        help="wall: elapsed time (default); cpu: the process's CPU time, which leaves out the time "
                        "other processes held the cores (one thread only)")
    parser.add_argument("--bf16", action="store_true", help="add bfloat16 inference rows (vs float32 inference)")
    parser.add_argument("--quick", action="store_true", help="tiny shapes: checks that every row runs, times nothing")
    args = parser.parse_args(argv)
    if args.threads < 1 or args.repeats < 1:
        parser.error("--threads and --repeats must be at least 1")
    if args.clock == "cpu" and args.threads != 1:
        parser.error("--clock cpu sums the CPU time of all threads: use it with --threads 1")
    return args


def run(argv: Sequence[str] | None = None) -> Report:
    """Parse ``argv``, measure, and return the report (``main`` prints it)."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shapes = [s for s in (QUICK_SHAPES if args.quick else SHAPES) if s.key in args.shapes]
    peak_size, peak_repeats = (128, 2) if args.quick else (1024, 10)
    started = datetime.datetime.now().astimezone()
    load_start = _load()
    peaks_start = peak_gflops(peak_size, peak_repeats, CLOCKS[args.clock])
    rows: list[Row] = []
    cpu_shares: dict[str, float] = {}
    peak_so_far = max(peaks_start.values())
    for shape in shapes:
        cases, variants = build_cases(shape, args.only, args.bf16)
        for case in cases.values():
            case.clock = CLOCKS[args.clock]
        times, cpu_share = measure(cases, args.repeats)
        rows += shape_rows(shape, variants, times, peak_so_far, args.bf16)
        cpu_shares[shape.label] = cpu_share
        del cases
    peaks_end = peak_gflops(peak_size, peak_repeats, CLOCKS[args.clock])
    peaks = {name: max(peaks_start[name], peaks_end[name]) for name in peaks_start}
    peak = max(peaks.values())
    for r in rows:  # shares of the run's best peak, now that the end-of-run measurement is in
        if r.peak_share is not None:
            r.peak_share = r.gflops / peak
    elapsed = (datetime.datetime.now().astimezone() - started).total_seconds()
    header = [
        f"rnnkit speed benchmark, {started:%Y-%m-%d %H:%M %Z}",
        f"rnnkit {rnnkit.__version__} (git {_git_commit()}), torch {torch.__version__}, "
        f"Python {platform.python_version()}",
        f"CPU: {_cpu_model()}, {os.cpu_count()} logical CPUs; torch threads: {torch.get_num_threads()}, "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '')}",
        f"load average (1, 5, 15 min) at start: {load_start}",
        "peak fp32 matmul ({0}x{0} @ {0}x{0}, best of {1}, before and after the rows): ".format(peak_size, peak_repeats)
        + ", ".join(f"{name} {g:.1f} GFLOP/s" for name, g in sorted(peaks.items()))
        + f"; %peak below is of {peak:.1f} GFLOP/s",
        f"{args.repeats} rounds per shape, cases in a shuffled order each round; times ({args.clock} clock) are "
        "medians, ratios medians of per-round ratios",
    ]
    if args.quick:
        header.append("--quick: tiny shapes that check every row runs; the times and verdicts mean nothing")
    footer = [f"process CPU time / wall time during the rounds of {label}: {share:.2f}"
              for label, share in cpu_shares.items()]
    footer.append(f"load average at end: {_load()}; whole run {elapsed:.0f} s")
    return Report(header, peaks, rows, footer, cpu_shares)


LEGEND = """\
fwd, f+b   median ms of the forward pass and of forward + backward (training shapes; autograd recording)
/ref       rnnkit time / time of the reference (torch.nn layer of the same sizes; float32 for bf16 rows)
/loop      rnnkit time / the same cells run step by step as a plain autograd loop (f+b; fwd for inference)
tok/s      batch x steps / (f+b, or fwd for inference)
GFLOP/s    matmul FLOPs of the cells only (3x forward in training) / time; %peak of the peak fp32 matmul
target     limits on /ref and /loop (torch.nn configurations: fwd and f+b; other cells and options: f+b, or fwd
           for inference, and /loop); MISS(...) names the limits missed"""


def _fmt(value: float | None, width: int, digits: int = 2, scale: float = 1.0) -> str:
    text = "-" if value is None else f"{value * scale:.{digits}f}"
    return text.rjust(width)


def _percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def format_report(report: Report) -> str:
    """The report as the text the script prints."""
    lines = [*report.header, ""]
    head = (f"{'row':<32} {'fwd ms':>8} {'f+b ms':>8} {'fwd/ref':>8} {'f+b/ref':>8} {'/loop':>6} "
            f"{'tok/s':>8} {'GFLOP/s':>8} {'%peak':>6}  target")
    shape = None
    for r in report.rows:
        if r.shape != shape:
            shape = r.shape
            lines += ["", shape, head, "-" * len(head)]
        verdict = "" if r.passed is None else ("PASS" if r.passed else f"MISS({','.join(r.missed)})")
        lines.append(
            f"{r.label:<32} {_fmt(r.fwd, 8, scale=1e3)} {_fmt(r.fwd_bwd, 8, scale=1e3)} "
            f"{_fmt(r.ratio_fwd, 8)} {_fmt(r.ratio_fwd_bwd, 8)} {_fmt(r.ratio_loop, 6)} "
            f"{r.tokens_per_s:8.0f} {r.gflops:8.1f} {_percent(r.peak_share):>6}  "
            f"{r.target:<22} {verdict}".rstrip()
        )
    judged = [r for r in report.rows if r.passed is not None]
    missed = [r for r in judged if not r.passed]
    lines += ["", LEGEND, "", f"targets: {len(judged) - len(missed)} PASS, {len(missed)} MISS"]
    lines += [f"  MISS {r.label} [{r.shape}]: {', '.join(r.missed)}" for r in missed]
    lines += report.footer
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    print(format_report(run(argv)), flush=True)


if __name__ == "__main__":
    main()
