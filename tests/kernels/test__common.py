"""The scan kernels' shared pieces against their formulas written plainly."""

import pytest
import torch

from rnnkit.kernels._common import (
    alternating, bfloat16_in_float32, check_scan, recurrent_grad, to_float32, weight_grad_t,
)

B, H, G = 3, 4, 2


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("first_step", [False, True])
def test_recurrent_grad_is_dy_prev_plus_masked_product(masked, first_step):
    d_gates, w = torch.randn(B, G * H, dtype=torch.float64), torch.randn(G * H, H, dtype=torch.float64)
    m = torch.rand(B, H, dtype=torch.float64) if masked else None
    dy_prev = None if first_step else torch.randn(B, H, dtype=torch.float64)
    want = (d_gates @ w) * (1 if m is None else m) + (0 if dy_prev is None else dy_prev)
    torch.testing.assert_close(recurrent_grad(d_gates, w, m, dy_prev), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("T", [1, 5])
@pytest.mark.parametrize("masked", [False, True])
def test_weight_grad_t_sums_every_step_with_h0_first(T, masked):
    h0, ys = torch.randn(B, H, dtype=torch.float64), torch.randn(T, B, H, dtype=torch.float64)
    d_gates = torch.randn(T, B, G * H, dtype=torch.float64)
    m = torch.rand(B, H, dtype=torch.float64) if masked else None
    h_prev = torch.cat([h0[None], ys[:-1]])  # (T, B, H): h_{t-1}
    h_in = h_prev if m is None else h_prev * m
    want = sum(h_in[t].T @ d_gates[t] for t in range(T))  # (H, G*H)
    torch.testing.assert_close(weight_grad_t(h0, ys, d_gates, m), want, rtol=0, atol=1e-12)


def test_check_scan_names_the_keep_mask_by_its_argument():
    xp, h0, w = torch.zeros(5, B, G * H), torch.zeros(B, H), torch.zeros(G * H, H)
    assert check_scan("k", xp, h0, w, G, None, keep_h=torch.zeros(5, B, 1)) == (5, B, H)
    with pytest.raises(ValueError, match="k: keep_c must be"):
        check_scan("k", xp, h0, w, G, None, keep_h=None, keep_c=torch.zeros(5, B, 2))


def test_bfloat16_in_float32_up_to_the_limit_and_only_for_bfloat16():
    w = torch.zeros(G * H, H, dtype=torch.bfloat16)
    xp = torch.zeros(5, B, G * H, dtype=torch.bfloat16)
    limit = B * G * H * H  # multiply-adds of one step's recurrent product
    assert bfloat16_in_float32(xp, w, limit)
    assert not bfloat16_in_float32(xp, w, limit - 1)
    assert not bfloat16_in_float32(xp.float(), w.float(), limit)


def test_to_float32_keeps_none_and_the_gradient_path():
    x = torch.ones(2, dtype=torch.bfloat16, requires_grad=True)
    up, none = to_float32(x, None)
    assert up.dtype == torch.float32 and none is None
    (3 * up).sum().backward()
    assert x.grad.dtype == torch.bfloat16 and x.grad.tolist() == [3.0, 3.0]


def test_alternating_views_take_turns_over_the_buffer_rows():
    buffer = torch.zeros(2, B, H)
    views = alternating(buffer, 5)
    assert len(views) == 5
    for t, view in enumerate(views):
        view.fill_(t)  # writes land in row t % 2, so the last two steps are what remain
        assert view.data_ptr() == buffer[t % 2].data_ptr()
    assert torch.equal(buffer[0], torch.full((B, H), 4.0)) and torch.equal(buffer[1], torch.full((B, H), 3.0))
