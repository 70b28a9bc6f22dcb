import torch
import torch.nn.functional as F

from rnnkit.cells.projection import input_projection, summed_bias


def test_one_matmul_equals_per_step_products():
    x, w, b = torch.randn(5, 3, 4), torch.randn(6, 4), torch.randn(6)
    want = torch.stack([F.linear(x_t, w, b) for x_t in x])
    with torch.no_grad():
        torch.testing.assert_close(input_projection(x, w, b), want)
    w.requires_grad_()
    out = input_projection(x, w, b)
    assert out.shape == (5, 3, 6) and out.requires_grad
    torch.testing.assert_close(out, want)
    (g,) = torch.autograd.grad(out.sum(), w)
    torch.testing.assert_close(g, torch.ones(15, 6).T @ x.reshape(15, 4))


def test_summed_bias():
    assert summed_bias(None, None) is None
    assert summed_bias(torch.ones(2), torch.ones(2)).tolist() == [2.0, 2.0]


def test_empty_batch_keeps_its_shape():
    # T*B = 0 leaves the last size of a view(T, B, -1) undetermined; the projection names it
    w = torch.randn(6, 4)
    assert input_projection(torch.randn(5, 0, 4), w).shape == (5, 0, 6)
    assert input_projection(torch.randn(5, 0, 4), w.requires_grad_()).shape == (5, 0, 6)
