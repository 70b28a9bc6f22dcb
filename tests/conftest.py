"""Suite-wide settings: one thread (on 2 shared cores two threads ran 3-7x slower) and a fixed seed per test."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


@pytest.fixture
def python_loops(monkeypatch):
    """Float32 inference through the scan kernels' Python loops, not the native ones
    (:mod:`rnnkit.kernels.native`), for tests of those loops themselves: spies on them, bit-for-bit
    equality with the training path."""
    from rnnkit.kernels import native

    monkeypatch.setattr(native, "runs", lambda xp: False)
    monkeypatch.setattr(native, "runs_bfloat16", lambda xp: False)
