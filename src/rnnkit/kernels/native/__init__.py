"""Native (C++) inference loops of the four scan kernels, compiled on first use, with the Python loops as fallback.

A step of a scan at small batch is a few hundred units: there the Python loops of
:mod:`rnnkit.kernels.lstm`, :mod:`~rnnkit.kernels.gru`, :mod:`~rnnkit.kernels.rnn` and
:mod:`~rnnkit.kernels.minimal_gru` spend more time calling about ten small operators a step (1-2 us each)
than computing. The C++ loops here run the same equations with one matrix product a step (ATen's
``addmm``, MKL on x86) and the step's elementwise work as one pass over the units, its sigmoid and tanh
written so that the compiler vectorizes them (``scan.h``: float32 within about 1e-7 of torch's). They
cover inference in float32 (no autograd: training keeps the Python loops and their hand-written
backward, whose time goes to matrix products), with every option of the Python loops: peepholes, layer
norms, keep masks, recurrent masks, deep transitions. The GRU, RNN and minimal-GRU loops also run bfloat16
inference at small batch (each kernel's ``BFLOAT16_NATIVE_ROWS``) where the CPU has AVX-512 BF16
(``bf16.h``: a product of a few rows by vdpbf16ps on a weight packed once, :func:`packed_bf16`; the gates
and state in float32, as the Python bfloat16 loops), in place of running such scans cast to float32.

Building. The first call compiles ``*.cpp`` with :func:`torch.utils.cpp_extension.load` (ninja and a C++17
compiler; about 30 s on 2 cores) into torch's extension cache (``TORCH_EXTENSIONS_DIR``, by default
``~/.cache/torch_extensions``), under a name that hashes the sources, the flags, torch's version and the
CPU (the code is compiled with ``-march=native``), so that later processes load it at once and a change
to any of them builds anew. If the build fails (no compiler, say), :func:`ops` warns once and returns
None, and the kernels run their Python loops. ``RNNKIT_NATIVE=0`` in the environment turns the native
loops off.
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import warnings
import weakref
from pathlib import Path
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from rnnkit.kernels.linear import onednn_faster

ENVIRONMENT = "RNNKIT_NATIVE"
_HERE = Path(__file__).parent
_SOURCES = ("lstm.cpp", "gru.cpp", "rnn.cpp", "minimal_gru.cpp", "bf16.cpp")
_HEADERS = ("scan.h", "bf16.h")
_FLAGS = ("-O3", "-std=c++17", "-march=native", "-fopenmp-simd")
ACTIVATIONS = {"tanh": 0, "relu": 1, "sigmoid": 2}  # the codes of scan.h


def enabled() -> bool:
    """Whether the environment allows the native loops (``RNNKIT_NATIVE`` is not ``0``)."""
    return os.environ.get(ENVIRONMENT, "1").strip() != "0"


def _cpu() -> str:
    """What identifies this CPU's instruction set: the model and flags lines of /proc/cpuinfo."""
    try:
        lines = Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    wanted = [line for line in lines if line.startswith(("model name", "flags", "Features"))]
    return "\n".join(dict.fromkeys(wanted))  # the first CPU's lines, once


def build_name() -> str:
    """The extension's name in torch's cache: a hash of the sources, flags, torch version and CPU."""
    digest = hashlib.sha256()
    for name in (*_SOURCES, *_HEADERS):
        digest.update((_HERE / name).read_bytes())
    digest.update(" ".join(_FLAGS).encode())
    digest.update(torch.__version__.encode())
    digest.update(_cpu().encode())
    return "rnnkit_native_" + digest.hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def ops() -> Any | None:
    """``torch.ops.rnnkit`` with the native loops loaded (built first if need be), or None if they are
    turned off or cannot be built here (then with one warning saying why)."""
    if not enabled():
        return None
    try:
        from torch.utils.cpp_extension import load

        load(
            name=build_name(),
            sources=[str(_HERE / name) for name in _SOURCES],
            extra_cflags=list(_FLAGS),
            extra_include_paths=[str(_HERE)],
            is_python_module=False,
            verbose=False,
        )
        return torch.ops.rnnkit
    except Exception as error:  # noqa: BLE001 - any build failure (no compiler, no ninja, headers) falls back
        warnings.warn(
            f"rnnkit: the native inference loops could not be built ({type(error).__name__}: {error}); "
            f"the Python loops run instead (set {ENVIRONMENT}=0 to skip the attempt)",
            RuntimeWarning,
            stacklevel=2,
        )
        return None


def runs(xp: Tensor) -> bool:
    """Whether a float32 scan over ``xp`` (T, B, ·) in inference takes the native loop: on the CPU, where its
    products go to MKL (:mod:`rnnkit.kernels.linear`: on Intel CPUs, and for one row elsewhere), and the
    loops are built."""
    if xp.dtype != torch.float32 or xp.device.type != "cpu" or onednn_faster(xp.dtype, xp.shape[1], xp.device):
        return False
    return ops() is not None


def runs_bfloat16(xp: Tensor) -> bool:
    """Whether a bfloat16 scan over ``xp`` in inference can take a native bfloat16 loop: on the CPU, the loops
    built with AVX-512 BF16 (:func:`bf16_supported`). Each kernel takes it up to the batch it names
    (``BFLOAT16_NATIVE_ROWS``)."""
    return xp.dtype == torch.bfloat16 and xp.device.type == "cpu" and ops() is not None and bf16_supported()


@functools.lru_cache(maxsize=None)
def bf16_supported() -> bool:
    """Whether the loaded loops include the bfloat16 ones (``bf16.h``: compiled for a CPU with AVX-512 BF16)."""
    loaded = ops()
    return loaded is not None and bool(loaded.bf16_supported())


# id(weight) -> (what identifies its contents, the copy); an entry leaves with its weight.
_TRANSPOSED: dict[int, tuple[tuple, Tensor]] = {}
_PACKED: dict[int, tuple[tuple, Tensor]] = {}


def _kept(store: dict[int, tuple[tuple, Tensor]], weight: Tensor, make: Callable[[Tensor], Tensor]) -> Tensor:
    """``make(weight)``, kept in ``store`` from call to call while ``weight`` lives unchanged: remade when its
    data, shape or version (in-place updates, such as an optimizer's) change."""
    key = (weight._version, weight.data_ptr(), tuple(weight.shape), weight.stride(), weight.dtype)
    entry = store.get(id(weight))
    if entry is not None and entry[0] == key:
        return entry[1]
    if entry is None:
        weakref.finalize(weight, store.pop, id(weight), None)
    value = make(weight.detach())
    store[id(weight)] = (key, value)
    return value


def transposed(weight: Tensor) -> Tensor:
    """``weight.T`` as a contiguous tensor, kept from call to call while ``weight`` lives unchanged.

    MKL's product of one row with a transposed view is 1.5x slower than with the contiguous transpose
    (measured: 13-15 us against 8 us for the GRU's (768, 256) weight), and transposing at every call costs
    more than a short sequence's loop gains. The copy costs the weight's size in memory while kept.
    """
    return _kept(_TRANSPOSED, weight, lambda w: w.t().contiguous())


def _pack_bf16(weight: Tensor) -> Tensor:
    """The layout of ``bf16.h``'s product: (N, K) padded with zeros to (64 G, 2 P), as (G, P, 64, 2)."""
    n, k = weight.shape
    groups, pairs = -(-n // 64), -(-k // 2)
    padded = weight.new_zeros(groups * 64, pairs * 2)
    padded[:n, :k] = weight
    return padded.view(groups, 64, pairs, 2).transpose(1, 2).contiguous()  # (G, P, 64, 2)


def packed_bf16(weight: Tensor) -> Tensor:
    """A bfloat16 weight (N, K) in the layout of the native bfloat16 product (``bf16.h``), kept from call
    to call as :func:`transposed` is (packing costs about as much as ten steps of a one-row scan)."""
    return _kept(_PACKED, weight, _pack_bf16)


def transition_arguments(transition: Any) -> tuple[list[Tensor], list[Tensor], int, bool]:
    """A :class:`rnnkit.kernels.transition.Transition` as the native loops take it: the weights transposed
    (:func:`transposed`), the biases with an empty tensor for none, the activation's code, skip. No transition: empty."""
    if transition is None:
        return [], [], 0, False
    weights_t = [transposed(w) for w in transition.weights]
    empty = transition.weights[0].new_empty(0)
    biases = [b.detach().contiguous() if b is not None else empty for b in transition.biases]
    return weights_t, biases, ACTIVATIONS[transition.activation], transition.skip


def contiguous(*tensors: Tensor | None) -> list[Tensor | None]:
    """Each tensor detached and contiguous (None stays None)."""
    return [t.detach().contiguous() if t is not None else None for t in tensors]


def float32(*tensors: Tensor | None) -> list[Tensor | None]:
    """Each tensor detached, contiguous and in float32 (None stays None): the masks and biases of the
    bfloat16 loops, which compute in float32."""
    return [t.detach().to(torch.float32).contiguous() if t is not None else None for t in tensors]
