"""Argument checks and small utilities shared by the scan kernels.

Shape legend: T steps, B batch rows, H hidden units, G gate blocks (LSTM 4, GRU 3, minimal GRU 2, RNN 1).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch
from torch import Tensor

from rnnkit.kernels.linear import bfloat16_large_weight


# Whether idle OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE) rather than spin for a while (the default),
# read once, as the OpenMP runtime reads it.
THREADS_SLEEP = os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE"
# Up to this many multiply-adds a step (batch x elements of weight_hh, and of a transition's layers) a
# scan's loop runs on one thread when idle threads spin; above it, all of it on every thread. Measured,
# 2 threads, T 100, H 256, layers (Recurrent and rnnkit.GRU), the loop on one thread against the loop on
# both, inference / training step: GRU 0.20M 0.80 / 0.93, 0.39M 0.71 / 0.90, 0.79M 1.01 / 0.92, 1.57M
# 1.05 / 1.02; peephole LSTM 0.26M 0.94, 0.52M 0.96 / 0.86, 1.05M 1.00 / 0.98; RNN 0.52M 0.92 / 1.00,
# 1.05M 0.99 / 1.06.
LOOP_ONE_THREAD_PRODUCTS = 3 << 18
# The same when idle threads sleep, where waking them costs more than the second thread gains on all
# but large steps; above it the step's products run on every thread and the rest on one (see
# loop_threads). Measured as above, the whole loop on one thread against the whole loop on both: GRU
# H 256 12.6M (batch 64) 0.58 / 0.73, 25.2M 0.69 / 0.86; peephole LSTM H 256 16.8M (batch 64) 0.62 /
# 0.73; GRU H 512 18.9M 0.92 / 0.98 (two layers), 25.2M 0.90 / 1.05 (two layers), H 768 21.2M 0.88 /
# 0.97; peephole LSTM H 512 33.6M 0.88 / 0.94 (two layers). A step of fewer operations gains less: RNN
# 16.8M at H 512 0.90 / 1.07, at H 1024 1.20 / 1.04.
LOOP_ONE_THREAD_PRODUCTS_SLEEPING = 5 << 22


class _Threads:
    """``with wide:`` inside a loop run on ``inside`` threads: the block runs on ``count`` threads."""

    __slots__ = ("count", "inside")

    def __init__(self, count: int, inside: int) -> None:
        self.count, self.inside = count, inside

    def __enter__(self) -> None:
        torch.set_num_threads(self.count)

    def __exit__(self, *exc: object) -> None:
        torch.set_num_threads(self.inside)


@contextmanager
def loop_threads(products: int) -> Iterator[AbstractContextManager[None]]:
    """Run the block, a scan's loop through time, on the threads its steps pay for; yield ``wide``, the
    context each step runs its recurrent products in::

        with loop_threads(step_products(B, weight_hh)) as wide:
            for t in range(T):
                with wide:
                    product(h, xp[t], out=a[t])
                a[t].sigmoid_()

    Steps are measured by ``products`` multiply-adds (:func:`step_products`). Up to
    :data:`LOOP_ONE_THREAD_PRODUCTS`, or :data:`LOOP_ONE_THREAD_PRODUCTS_SLEEPING` when ``OMP_WAIT_POLICY``
    is ``PASSIVE``, the whole loop runs on one thread, products too. A larger step with sleeping threads
    runs its products on every thread and the rest of the loop on one; with spinning threads, all of it
    on every thread. With one thread set already nothing changes. The count in use before is restored on
    leaving, also on an exception (``wide`` restores the loop's one).

    Why. With more than one torch thread every small operation of a step (MKL's ``addmm``, elementwise
    operations past their grain size) opens an OpenMP parallel region, whose cost a small step does not
    earn back. Inference, GRU and peephole LSTM layers, T 100, H 256, ms at 1 / 2 threads before this
    rule: threads spinning (OpenMP's default), GRU batch 1 2.42 / 2.95, batch 4 3.55 / 3.29, batch 64
    34.2 / 22.8; threads sleeping (``OMP_WAIT_POLICY=PASSIVE``, which waking costs at every region) GRU
    batch 1 2.29 / 43.9, batch 64 32.7 / 49.4, peephole LSTM batch 64 49.7 / 68.1.

    A large step's product earns its wake-up; its elementwise operations, a few microseconds each on
    (B, 4H) rows, do not. Training steps of layers (forward and backward), 2 sleeping threads, ms with
    the products alone on both threads / the whole loop on both / the whole loop on one: B 32, T 50,
    I 64, H 512, two layers (33.5M a step for the LSTM): peephole LSTM 202-215 / 244-257 / 234, with
    layer norm 244-246 / 336-344 / 261, zoneout 217 / 241, ``DeepTransition(LSTMCell)`` 246 / 271, GRU
    151-160 / 162-164 / 165, RNN 46 / 47. At B 64, T 100, H 256 (16.8M), under the sleeping limit, the
    products gain at most what their wake-ups cost, products alone on both / the whole loop on one: GRU
    95 / 83, RNN 38 / 27, peephole LSTM 130 / 126, with layer norm 162 / 167. With spinning threads the
    elementwise operations gain from the second thread too, products alone on both / the whole loop on
    both: B 64, H 256, GRU 73 / 68, peephole LSTM 110 / 104, with layer norm 134 / 124, zoneout 132 /
    109; B 32, H 512, two layers, GRU 130 / 131, peephole LSTM 182 / 193, with layer norm 213 / 203,
    zoneout 194 / 194. The whole-sequence products outside the loops (the input projection, dW_hh) keep
    their threads, which they use well. ``torch.set_num_threads`` costs about 0.2 us a switch and back.

    ``torch.set_num_threads`` reaches beyond the calling Python thread: it also sets the process-wide count
    that a Python thread takes at its first torch operation, so a thread starting torch work while such a
    loop runs gets one thread, and keeps it. (A thread that ran torch operations before keeps its own
    count: OpenMP's is per thread. Measured with torch 2.13 on OpenMP.)

    It also does more than set OpenMP's count (PyTorch's ``aten/src/ATen/ParallelOpenMP.cpp``): it sets
    MKL's thread count (``mkl_set_num_threads_local``) and clears oneDNN's (ideep's) cache of forward
    convolution primitives (``mkldnn::clear_computation_cache``, as they hold the thread count). A model
    mixing convolutions with these kernels on several threads therefore rebuilds its convolution
    primitives at its first convolution after each scan whose loop switched counts (never with one
    thread set, or with spinning threads above the limit, where nothing is switched).
    """
    threads = torch.get_num_threads()
    limit = LOOP_ONE_THREAD_PRODUCTS_SLEEPING if THREADS_SLEEP else LOOP_ONE_THREAD_PRODUCTS
    if threads == 1 or (products > limit and not THREADS_SLEEP):
        yield nullcontext()
        return
    wide: AbstractContextManager[None] = _Threads(threads, 1) if products > limit else nullcontext()
    torch.set_num_threads(1)
    try:
        yield wide
    finally:
        torch.set_num_threads(threads)


def step_products(batch: int, weight_hh: Tensor, layers: Sequence[Tensor] = ()) -> int:
    """Multiply-adds of one step's products: ``batch`` rows against ``weight_hh`` and each of ``layers``
    (a deep transition's weights)."""
    return batch * (weight_hh.numel() + sum(w.numel() for w in layers))


def needs_grad(*tensors: Tensor | None) -> bool:
    """Whether a pass over these inputs must record for backward (grad mode on and some input requires grad)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def bfloat16_in_float32(xp: Tensor, weight_hh: Tensor, max_products: int, *, training: bool = False) -> bool:
    """Whether a bfloat16 scan runs whole in float32: its recurrent product is small, at most ``max_products``
    multiply-adds a step (batch rows x elements of ``weight_hh``), and, in inference, its weight is not
    large (:func:`rnnkit.kernels.linear.bfloat16_large_weight`).

    A small bfloat16 product is slower than the same product in float32 (one row of H = 256 against the
    GRU's (768, 256) weight, one thread: 38-42 us in MKL's bfloat16 path, 21 us in oneDNN's with the
    weight packed, 8-12 us in float32, 11-13 us with the casts), and
    so are the bfloat16 elementwise operations of the gates; casting the inputs up once and the outputs
    back down once costs far less. Where the products grow, bfloat16's faster arithmetic takes over. The
    limit depends on how a kernel computes in bfloat16, so each kernel measures and names its own. A
    weight whose float32 copy outgrows the L2 cache is faster in bfloat16 even for one row, so inference
    over it keeps bfloat16 at any batch; training (``training=True``) keeps the product limit alone.
    """
    small = xp.dtype == torch.bfloat16 and xp.shape[1] * weight_hh.numel() <= max_products
    return small and (training or not bfloat16_large_weight(weight_hh))


def to_float32(*tensors: Tensor | None) -> list[Tensor | None]:
    """The tensors cast to float32 (differentiably: autograd casts their gradients back), None kept."""
    return [t.float() if t is not None else None for t in tensors]


def check_scan(
    kernel: str,
    xp: Tensor,
    h0: Tensor,
    weight_hh: Tensor,
    gates: int,
    recurrent_mask: Tensor | None = None,
    **keeps: Tensor | None,
) -> tuple[int, int, int]:
    """Check ``xp: (T, B, G*H)``, ``h0: (B, H)``, ``weight_hh: (G*H, H)``, the recurrent mask and the keep
    masks (passed by their argument names) agree; return ``(T, B, H)``."""
    if xp.dim() != 3:
        raise ValueError(f"{kernel}: xp must be (T, B, {gates}*H), got shape {tuple(xp.shape)}")
    if h0.dim() != 2:
        raise ValueError(f"{kernel}: h0 must be (B, H), got shape {tuple(h0.shape)}")
    steps, batch, width = xp.shape
    hidden = h0.shape[1]
    if steps == 0:
        raise ValueError(f"{kernel}: xp has no time steps (shape {tuple(xp.shape)})")
    if width != gates * hidden or h0.shape[0] != batch:
        raise ValueError(
            f"{kernel}: xp {tuple(xp.shape)} does not match h0 {tuple(h0.shape)}: "
            f"expected xp of shape ({steps}, {h0.shape[0]}, {gates * hidden})"
        )
    if tuple(weight_hh.shape) != (gates * hidden, hidden):
        raise ValueError(
            f"{kernel}: weight_hh must be ({gates * hidden}, {hidden}), got {tuple(weight_hh.shape)}"
        )
    for name, keep in keeps.items():
        check_keep(kernel, name, keep, steps, batch, hidden)
    check_recurrent_mask(kernel, recurrent_mask, batch, hidden)
    return steps, batch, hidden


def check_dtypes(
    kernel: str, named: dict[str, Tensor | None], allowed: Sequence[torch.dtype] | None = None
) -> None:
    """Check the given tensors (by argument name, None skipped) share one dtype, one of ``allowed`` if given.

    A mixed call would otherwise fail deep inside a product (oneDNN: "could not create a primitive
    descriptor") or silently promote; the error names every tensor's dtype.
    """
    dtypes = {name: value.dtype for name, value in named.items() if value is not None}
    first = next(iter(dtypes.values()))
    if any(dtype != first for dtype in dtypes.values()) or (allowed is not None and first not in allowed):
        listed = ", ".join(f"{name} {str(dtype).removeprefix('torch.')}" for name, dtype in dtypes.items())
        one_of = f" of {', '.join(str(d).removeprefix('torch.') for d in allowed)}" if allowed is not None else ""
        raise TypeError(f"{kernel}: all tensors must share one dtype{one_of}; got {listed}")


def check_vector(kernel: str, name: str, value: Tensor | None, size: int) -> None:
    """Check an optional per-unit parameter has shape ``(size,)``."""
    if value is not None and tuple(value.shape) != (size,):
        raise ValueError(f"{kernel}: {name} must have shape ({size},), got {tuple(value.shape)}")


def check_keep(kernel: str, name: str, keep: Tensor | None, steps: int, batch: int, hidden: int) -> None:
    """Check a keep mask is ``(T, B, H)`` or broadcastable to it with size 1 in the batch or unit dimension."""
    if keep is None:
        return
    shape = tuple(keep.shape)
    if len(shape) != 3 or shape[0] != steps or shape[1] not in (1, batch) or shape[2] not in (1, hidden):
        raise ValueError(
            f"{kernel}: {name} must be ({steps}, {batch}, {hidden}) or ({steps}, {batch}, 1), got {shape}"
        )


def check_recurrent_mask(kernel: str, mask: Tensor | None, batch: int, hidden: int) -> None:
    """Check a recurrent (variational dropout) mask is ``(B, H)``."""
    if mask is not None and tuple(mask.shape) != (batch, hidden):
        raise ValueError(f"{kernel}: recurrent_mask must be ({batch}, {hidden}), got {tuple(mask.shape)}")


def per_step(buffer: Tensor, steps: int) -> list[Tensor]:
    """The ``steps`` per-step views of a ``(T, ...)`` buffer, or one ``(1, ...)`` scratch buffer reused at every step.

    ``unbind`` makes all views in one call; indexing ``buffer[t]`` inside a loop costs a view per step and,
    on tensors that require grad, makes the backward pass quadratic in T.
    """
    if buffer.shape[0] == steps:
        return list(buffer.unbind(0))
    return [buffer[0]] * steps


def alternating(buffer: Tensor, steps: int) -> list[Tensor]:
    """``steps`` views taking turns over the two rows of a ``(2, ...)`` buffer: row ``t % 2`` at step ``t``.

    For a state whose previous and current value are all a pass keeps: the two views are made once
    (indexing ``buffer[t % 2]`` at every step makes a view per step).
    """
    rows = buffer.unbind(0)
    return [rows[t % 2] for t in range(steps)]


def float32_state(h0: Tensor, steps: int) -> list[Tensor]:
    """The state of a bfloat16 inference loop in float32: ``steps + 1`` views taking turns over two rows,
    the first holding ``h0``. The gates and the state run in float32 on it; each step's ``h_t`` is then
    rounded to bfloat16 once, into the outputs."""
    buffer = torch.empty(2, *h0.shape, dtype=torch.float32, device=h0.device)  # h_{t-1} and h_t, taking turns
    buffer[0] = h0
    return alternating(buffer, steps + 1)


def recurrent_grad(d_gates: Tensor, weight_hh: Tensor, m: Tensor | None, dy_prev: Tensor | None) -> Tensor:
    """``dL/dys_{t-1} + m * (d_gates W_hh)``: the gradient reaching ``h_{t-1}`` through the recurrent matmul.

    ``dy_prev`` is None at the first step (h_0 is no output). Without a mask the addition of
    ``dL/dys_{t-1}`` is folded into the matmul (``addmm``). Returns a new tensor the caller may add to in place.
    """
    if m is None and dy_prev is not None:
        return torch.addmm(dy_prev, d_gates, weight_hh)
    back = torch.mm(d_gates, weight_hh)
    if m is not None:
        back.mul_(m)
    if dy_prev is not None:
        back.add_(dy_prev)
    return back


def weight_grad_t(h0: Tensor, ys: Tensor, d_gates: Tensor, m: Tensor | None) -> Tensor:
    """``sum_t (h_{t-1} * m)^T d_gates_t`` as ``(H, G*H)``, the transpose of dW_hh.

    One matmul over the stacked steps 2..T (whose h_{t-1} are ys_1..ys_{T-1}) plus step 1's product with
    h_0: ys is an output tensor of its own, so it cannot hold h_0. Computed transposed because that is
    MKL's fast layout for these operands (both are read with the long T*B dimension contiguous).
    """
    T, B, GH = d_gates.shape
    H = h0.shape[1]
    dw_t = torch.mm((h0 if m is None else h0 * m).t(), d_gates[0])
    if T > 1:
        h_in = ys[:-1] if m is None else ys[:-1] * m  # (T-1, B, H)
        dw_t.addmm_(h_in.reshape((T - 1) * B, H).t(), d_gates[1:].reshape((T - 1) * B, GH))
    return dw_t
