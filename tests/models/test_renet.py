"""ReNet: the layer is the four directional sweeps it claims (checked against explicit per-row and per-column
loops); every output sees the whole image; the classifier fits real printed digits: the glyphs 0-9 of four
typefaces shipped with matplotlib (DejaVu Sans, DejaVu Serif Bold, DejaVu Sans Mono Oblique, Computer Modern),
each rendered centred on a 12 x 12 canvas."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from rnnkit.models import ReNetClassifier, ReNetClassifierConfig, ReNetLayer

FONTS = Path(sysconfig.get_paths()["purelib"]) / "matplotlib" / "mpl-data" / "fonts" / "ttf"
TYPEFACES = ["DejaVuSans.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSansMono-Oblique.ttf", "cmr10.ttf"]


def printed_digits(size: int = 12) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(10 * fonts, 1, size, size)`` in [0, 1] of the digits of each typeface, and their labels."""
    images, labels = [], []
    for name in TYPEFACES:
        font = ImageFont.truetype(str(FONTS / name), size=size)
        for digit in range(10):
            image = Image.new("L", (size, size), 0)
            draw = ImageDraw.Draw(image)
            left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=font)
            draw.text(((size - right - left) / 2, (size - bottom - top) / 2), str(digit), fill=255, font=font)
            pixels = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).view(size, size)
            images.append(pixels.float() / 255)
            labels.append(digit)
    return torch.stack(images).unsqueeze(1), torch.tensor(labels)


def test_fits_printed_digits_of_four_typefaces(overfit):
    images, labels = printed_digits()
    assert images.shape == (40, 1, 12, 12) and images.amax() > 0.9
    config = ReNetClassifierConfig(in_channels=1, num_classes=10, hidden_sizes=(16, 16), patch_sizes=(2, 2))
    model = ReNetClassifier(config)
    assert overfit(model, lambda: F.cross_entropy(model(images), labels), steps=130) < 0.05
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
