"""kernels.linear: the engine-routed products agree with torch.nn.functional.linear."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.kernels import linear as linear_module
from rnnkit.kernels.linear import linear, matmul, onednn_available, prepacked_linear


def test_onednn_available_agrees_with_the_operator():
    has_op = hasattr(torch.ops.mkldnn, "_linear_pointwise") and torch.backends.mkldnn.is_available()
    assert onednn_available() == has_op


@pytest.mark.parametrize("rows", [1, 7])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_linear_matches_f_linear(rows, dtype):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(rows, 5, generator=gen, dtype=dtype)
    w, b = torch.randn(6, 5, generator=gen, dtype=dtype), torch.randn(6, generator=gen, dtype=dtype)
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    assert torch.allclose(linear(x, w, b), F.linear(x, w, b), atol=tol)
    assert torch.allclose(matmul(x, w.t()), x @ w.t(), atol=tol)


def test_linear_bfloat16_close_to_float32():
    gen = torch.Generator().manual_seed(1)
    x, w = torch.randn(8, 32, generator=gen), torch.randn(16, 32, generator=gen)
    got = linear(x.bfloat16(), w.bfloat16())
    assert got.dtype == torch.bfloat16
    want = F.linear(x.bfloat16().float(), w.bfloat16().float())
    assert torch.allclose(got.float(), want, rtol=1e-2, atol=0.05)


def test_onednn_route_used_when_faster(monkeypatch):
    """With the route forced, the oneDNN operator gives F.linear's numbers (float32) and F.linear is not called."""
    if not onednn_available():
        pytest.fail("the oneDNN linear operator is expected in this PyTorch build")
    monkeypatch.setattr(linear_module, "_intel_cpu", lambda: False)
    calls = []
    real = F.linear
    monkeypatch.setattr(linear_module.F, "linear", lambda *a: calls.append(a) or real(*a))
    x, w = torch.randn(4, 3), torch.randn(5, 3)
    got = linear(x, w)
    assert calls == []
    assert torch.allclose(got, x @ w.t(), atol=1e-5)


def test_float64_and_grad_fall_back_to_f_linear(monkeypatch):
    monkeypatch.setattr(linear_module, "_intel_cpu", lambda: False)
    calls = []
    real = F.linear
    monkeypatch.setattr(linear_module.F, "linear", lambda *a: calls.append(a) or real(*a))
    linear(torch.randn(4, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64))
    linear(torch.randn(4, 3, requires_grad=True), torch.randn(5, 3))
    assert len(calls) == 2


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("intel", [True, False])
@pytest.mark.parametrize("rows", [1, 6])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_prepacked_linear_with_add_and_out(dtype, rows, intel, bias, monkeypatch):
    monkeypatch.setattr(linear_module, "_intel_cpu", lambda: intel)
    gen = torch.Generator().manual_seed(2)
    w = torch.randn(12, 8, generator=gen).to(dtype)
    b = torch.randn(12, generator=gen).to(dtype) if bias else None
    x, add = torch.randn(rows, 8, generator=gen).to(dtype), torch.randn(rows, 12, generator=gen).to(dtype)
    product = prepacked_linear(w, rows, b)
    want = F.linear(x.double(), w.double(), None if b is None else b.double()) + add.double()
    tol = {torch.float64: 1e-12, torch.float32: 1e-5, torch.bfloat16: 0.1}[dtype]
    assert torch.allclose(product(x).double(), want - add.double(), atol=tol)
    assert torch.allclose(product(x, add).double(), want, atol=tol)
    out = torch.empty(rows, 12, dtype=torch.float32 if dtype == torch.bfloat16 else dtype)
    result = product(x, add, out=out)
    assert result.data_ptr() == out.data_ptr()
    assert torch.allclose(out.double(), want, atol=tol)
    out_no_add = torch.empty_like(out)
    product(x, out=out_no_add)
    assert torch.allclose(out_no_add.double(), want - add.double(), atol=tol)


def test_bfloat16_large_weight_goes_to_onednn_at_one_row(monkeypatch):
    """One row of a bfloat16 weight of at least BFLOAT16_LARGE_WEIGHT elements is multiplied by oneDNN, whose
    result is rounded to bfloat16 once; below that limit by MKL in float32, whose result is not."""
    gen = torch.Generator().manual_seed(3)
    w, x = torch.randn(12, 8, generator=gen).bfloat16(), torch.randn(1, 8, generator=gen).bfloat16()
    want = F.linear(x.double(), w.double())
    for limit, onednn in ((w.numel() + 1, False), (w.numel(), True)):
        monkeypatch.setattr(linear_module, "BFLOAT16_LARGE_WEIGHT", limit)
        assert linear_module.bfloat16_large_weight(w) == onednn
        assert not linear_module.bfloat16_large_weight(w.float())
        out = torch.empty(1, 12)
        prepacked_linear(w, 1)(x, out=out)
        assert torch.equal(out, out.bfloat16().float()) == onednn
        assert torch.allclose(out.double(), want, atol=0.1)


def test_bfloat16_goes_to_mkl_in_float32_without_native_onednn_bfloat16(monkeypatch):
    """On a CPU where oneDNN would emulate bfloat16, products are MKL's in float32 (not rounded to bfloat16)."""
    gen = torch.Generator().manual_seed(4)
    w, x = torch.randn(12, 8, generator=gen).bfloat16(), torch.randn(6, 8, generator=gen).bfloat16()
    monkeypatch.setattr(linear_module, "BFLOAT16_LARGE_WEIGHT", 1)
    for supported in (True, False):
        monkeypatch.setattr(linear_module, "onednn_bfloat16", lambda: supported)
        assert linear_module.bfloat16_large_weight(w) == supported
        out = torch.empty(6, 12)
        prepacked_linear(w, 6)(x, out=out)
        assert torch.equal(out, out.bfloat16().float()) == supported
        assert torch.allclose(out.double(), F.linear(x.double(), w.double()), atol=0.1)
