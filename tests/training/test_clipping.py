import pytest
import torch

from rnnkit.training import clip_gradients


def _params(*grads):
    params = [torch.nn.Parameter(torch.zeros(len(g))) for g in grads]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    return params


def test_norm_clipping_rescales_the_whole_gradient():
    params = _params([3.0, 0.0], [0.0, 4.0])  # total norm 5
    assert clip_gradients(params, max_norm=1.0) == pytest.approx(5.0)
    assert torch.allclose(params[0].grad, torch.tensor([0.6, 0.0]), atol=1e-6)
    assert torch.allclose(params[1].grad, torch.tensor([0.0, 0.8]), atol=1e-6)


def test_small_gradients_are_left_alone():
    params = _params([0.3, 0.4])
    assert clip_gradients(params, max_norm=1.0) == pytest.approx(0.5)
    assert torch.equal(params[0].grad, torch.tensor([0.3, 0.4]))


def test_value_clipping_then_norm():
    params = _params([3.0, -0.5], [-4.0])
    assert clip_gradients(params, max_value=1.0) == pytest.approx((9 + 0.25 + 16) ** 0.5)
    assert torch.equal(params[0].grad, torch.tensor([1.0, -0.5])) and torch.equal(params[1].grad, torch.tensor([-1.0]))
    params = _params([3.0, -0.5], [-4.0])
    clip_gradients(params, max_norm=0.5, max_value=1.0)  # clamped to norm 1.5, then scaled to 0.5
    assert torch.allclose(params[0].grad, torch.tensor([1.0, -0.5]) / 3, atol=1e-6)


def test_no_gradients_give_norm_zero():
    assert clip_gradients([torch.nn.Parameter(torch.zeros(2))], max_norm=1.0) == 0.0
