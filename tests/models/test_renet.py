"""ReNet: the layer is the four directional sweeps it claims (checked against explicit per-row and per-column
loops); every output sees the whole image; the classifier fits seven-segment digit images.

The images are synthetic: the digits 0-9 drawn as seven-segment displays (5 x 9 pixels, one pixel thick) at
random positions on a 12 x 8 canvas, with Gaussian noise, so a class is a shape, not a position."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnnkit.models import ReNetClassifier, ReNetClassifierConfig, ReNetLayer

SEGMENTS = {  # segment -> (rows, cols) inside the 9 x 5 digit box
    "a": (slice(0, 1), slice(0, 5)),
    "b": (slice(0, 5), slice(4, 5)),
    "c": (slice(4, 9), slice(4, 5)),
    "d": (slice(8, 9), slice(0, 5)),
    "e": (slice(4, 9), slice(0, 1)),
    "f": (slice(0, 5), slice(0, 1)),
    "g": (slice(4, 5), slice(0, 5)),
}
DIGITS = ["abcdef", "bc", "abged", "abgcd", "fgbc", "afgcd", "afgedc", "abc", "abcdefg", "abcdfg"]


def seven_segment_digits(per_digit: int, noise: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.zeros(10 * per_digit, 1, 12, 8)
    labels = torch.arange(10).repeat_interleave(per_digit)
    for n, digit in enumerate(labels.tolist()):
        top, left = torch.randint(0, 4, (2,)).tolist()  # the 9 x 5 box anywhere on the 12 x 8 canvas
        box = images[n, 0, top : top + 9, left : left + 5]
        for segment in DIGITS[digit]:
            box[SEGMENTS[segment]] = 1.0
    return images + noise * torch.randn_like(images), labels


def test_fits_seven_segment_digits(overfit):
    images, labels = seven_segment_digits(per_digit=3)
    config = ReNetClassifierConfig(in_channels=1, num_classes=10, hidden_sizes=(16, 16), patch_sizes=(2, 2))
    model = ReNetClassifier(config)
    assert overfit(model, lambda: F.cross_entropy(model(images), labels), steps=100) < 0.05
    assert torch.equal(model(images).argmax(1), labels)


def sweep(rnn, sequence: torch.Tensor) -> torch.Tensor:
    """One sequence ``(T, D)`` through a bidirectional batch-first layer: ``(T, 2H)``."""
    return rnn(sequence.unsqueeze(0))[0][0]


def patch_grid(image: torch.Tensor, P: int) -> torch.Tensor:
    """``image (C, H, W)`` cut into ``P x P`` patches one by one: ``(H/P, W/P, C*P*P)``."""
    C, H, W = image.shape
    return torch.stack([
        torch.stack([image[:, i * P : (i + 1) * P, j * P : (j + 1) * P].reshape(-1) for j in range(W // P)])
        for i in range(H // P)
    ])


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_layer_equals_explicit_row_then_column_sweeps(cell):
    layer = ReNetLayer(in_channels=2, hidden_size=3, patch_size=2, cell=cell).eval()
    images = torch.randn(2, 2, 6, 4)
    expected = torch.zeros(2, 6, 3, 2)
    for b in range(2):
        patches = patch_grid(images[b], 2)  # (I, J, C*P*P)
        rows = torch.stack([sweep(layer.rows, patches[i]) for i in range(3)])  # (I, J, 2H): left-right, right-left
        for j in range(2):
            expected[b, :, :, j] = sweep(layer.columns, rows[:, j]).T  # column j: top-down, bottom-up
    torch.testing.assert_close(layer(images), expected, rtol=1e-5, atol=1e-6)


def test_every_output_depends_on_the_whole_image():
    layer = ReNetLayer(in_channels=1, hidden_size=4, patch_size=1)
    images = torch.randn(1, 1, 5, 5, requires_grad=True)
    layer(images)[0, :, 0, 0].sum().backward()  # the top-left output
    assert torch.all(images.grad.abs() > 0)  # reaches the bottom-right pixel through the sweeps


def test_stacked_shapes_and_errors():
    config = ReNetClassifierConfig(in_channels=3, num_classes=4, hidden_sizes=(5, 6), patch_sizes=(2, 3))
    model = ReNetClassifier(config)
    assert model.features(torch.randn(2, 3, 12, 18)).shape == (2, 12, 2, 3)
    assert model(torch.randn(2, 3, 12, 18)).shape == (2, 4)
    with pytest.raises(ValueError, match="multiples of patch_size 2"):
        model(torch.randn(1, 3, 11, 18))
    with pytest.raises(ValueError, match="equal length"):
        ReNetClassifierConfig(in_channels=1, num_classes=2, hidden_sizes=(4,), patch_sizes=(2, 2))


def test_batch_equals_each_image_alone():
    model = ReNetClassifier(ReNetClassifierConfig(in_channels=2, num_classes=3, hidden_sizes=(4,), patch_sizes=(2,)))
    images = torch.randn(3, 2, 4, 6)
    batch = model.eval()(images)
    for b in range(3):
        torch.testing.assert_close(batch[b], model(images[b : b + 1])[0], rtol=1e-5, atol=1e-6)
