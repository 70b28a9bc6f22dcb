"""A 2-D recurrent network over images: ReNet (Visin, Kastner, Cho, Matteucci, Courville & Bengio 2015,
"ReNet: A Recurrent Neural Network Based Alternative to Convolutional Networks"); seed 002's extension of
the bidirectional RNN to four directions, left, right, down and up.

A ReNet layer cuts its input ``(C, H, W)`` into non-overlapping ``P x P`` patches ``p_ij`` (each flattened
to ``C P^2`` values, on an ``I x J`` grid, ``I = H / P``, ``J = W / P``). One bidirectional RNN sweeps
every row of patches left to right and right to left; a second sweeps every column of the result top to
bottom and bottom to top:

.. math::

    \\overrightarrow{h}_{ij} = f_\\rightarrow(p_{ij}, \\overrightarrow{h}_{i,j-1}), \\quad
    \\overleftarrow{h}_{ij} = f_\\leftarrow(p_{ij}, \\overleftarrow{h}_{i,j+1}), \\quad
    r_{ij} = [\\overrightarrow{h}_{ij}; \\overleftarrow{h}_{ij}]

.. math::

    \\downarrow\\!v_{ij} = f_\\downarrow(r_{ij}, \\downarrow\\!v_{i-1,j}), \\quad
    \\uparrow\\!v_{ij} = f_\\uparrow(r_{ij}, \\uparrow\\!v_{i+1,j}), \\quad
    o_{ij} = [\\downarrow\\!v_{ij}; \\uparrow\\!v_{ij}]

After both sweeps every output ``o_ij`` depends on the whole image, unlike a convolution's window. The
output ``(2 H_v, I, J)`` is an image again, so layers stack. (The paper sweeps columns first; the order
is a convention.) :class:`ReNetClassifier` stacks layers, averages the last one over the grid and
classifies the result with a linear layer.

Example::

    import torch
    from rnnkit.models import ReNetClassifier, ReNetClassifierConfig
    model = ReNetClassifier(ReNetClassifierConfig(in_channels=1, num_classes=10, patch_sizes=(2, 2)))
    logits = model(torch.rand(4, 1, 12, 8))  # (B, C, H, W): H, W divisible by 2 * 2
    print(logits.shape)  # torch.Size([4, 10])
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from rnnkit.models.config_checks import check_positive, check_probability
from rnnkit.models.recurrence import CellType, RecurrentConfig, RecurrentOptions, recurrent_layer


class ReNetLayer(nn.Module):
    """One ReNet layer: ``forward(images (B, C, H, W)) -> (B, 2 * hidden_size, H / P, W / P)``.

    ``options`` (e.g. a :class:`ReNetClassifierConfig`) give both sweeps rnnkit's cell and layer options.
    """

    def __init__(
        self, in_channels: int, hidden_size: int, patch_size: int, cell: CellType = "gru",
        options: RecurrentOptions | None = None,
    ) -> None:
        super().__init__()
        if min(in_channels, hidden_size, patch_size) <= 0:
            raise ValueError(
                f"ReNetLayer: sizes must be positive, got in_channels {in_channels}, hidden_size {hidden_size}, "
                f"patch_size {patch_size}"
            )
        self.in_channels, self.hidden_size, self.patch_size = in_channels, hidden_size, patch_size
        both_ways = dict(bidirectional=True, **({} if options is None else options.option_values()))
        rows = RecurrentConfig(cell, in_channels * patch_size**2, hidden_size, **both_ways)
        self.rows = recurrent_layer(rows)  # f_->, f_<-
        self.columns = recurrent_layer(RecurrentConfig(cell, 2 * hidden_size, hidden_size, **both_ways))  # f_down, f_up

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or images.size(1) != self.in_channels:
            raise ValueError(f"ReNetLayer: input must be (B, {self.in_channels}, H, W), got {tuple(images.shape)}")
        B, C, H, W = images.shape
        P = self.patch_size
        if H % P or W % P:
            raise ValueError(f"ReNetLayer: image height {H} and width {W} must be multiples of patch_size {P}")
        I, J = H // P, W // P
        patches = images.view(B, C, I, P, J, P).permute(0, 2, 4, 1, 3, 5).reshape(B * I, J, C * P * P)  # (B*I, J, CPP)
        r, _ = self.rows(patches)  # (B*I, J, 2H): each row of patches, both ways
        r = r.view(B, I, J, -1).transpose(1, 2).reshape(B * J, I, -1)  # (B*J, I, 2H): columns as sequences
        o, _ = self.columns(r)  # (B*J, I, 2H)
        return o.view(B, J, I, -1).permute(0, 3, 2, 1)  # (B, 2H, I, J)

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, hidden_size={self.hidden_size}, patch_size={self.patch_size}"


@dataclass
class ReNetClassifierConfig(RecurrentOptions):
    in_channels: int  # image channels C (1 grey, 3 colour)
    num_classes: int  # image classes
    hidden_sizes: tuple[int, ...] = (32, 32)  # per-direction state of each stacked ReNet layer
    patch_sizes: tuple[int, ...] = (2, 2)  # square patch side of each layer; H, W must divide by their product
    cell: CellType = "gru"  # the paper's choice; any of rnnkit's cells is allowed
    dropout: float = 0.0  # between ReNet layers and before the classifier

    def __post_init__(self) -> None:
        check_positive(self, "in_channels", "num_classes")
        self.hidden_sizes, self.patch_sizes = tuple(self.hidden_sizes), tuple(self.patch_sizes)
        if not self.hidden_sizes or len(self.hidden_sizes) != len(self.patch_sizes):
            raise ValueError(
                f"ReNetClassifierConfig.hidden_sizes {self.hidden_sizes} and patch_sizes {self.patch_sizes} "
                "must be non-empty and of equal length (one entry per layer)"
            )
        for field in ("hidden_sizes", "patch_sizes"):
            for value in getattr(self, field):
                if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                    raise ValueError(f"ReNetClassifierConfig.{field} must hold positive ints, got {value!r}")
        self.check_recurrent_options()
        check_probability(self, "dropout")


class ReNetClassifier(nn.Module):
    """Stacked ReNet layers, a mean over the final grid, a linear classifier:
    ``forward(images (B, C, H, W)) -> logits (B, num_classes)``."""

    def __init__(self, config: ReNetClassifierConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        channels = [c.in_channels] + [2 * h for h in c.hidden_sizes]
        self.layers = nn.ModuleList(
            ReNetLayer(channels[k], h, p, c.cell, options=c)
            for k, (h, p) in enumerate(zip(c.hidden_sizes, c.patch_sizes))
        )
        self.dropout = nn.Dropout(c.dropout)
        self.classifier = nn.Linear(channels[-1], c.num_classes)

    def features(self, images: Tensor) -> Tensor:
        """The last ReNet layer's output ``(B, 2 H_v, I, J)``."""
        x = images
        for k, layer in enumerate(self.layers):
            x = layer(self.dropout(x) if k else x)
        return x

    def forward(self, images: Tensor) -> Tensor:
        pooled = self.features(images).mean(dim=(2, 3))  # (B, 2 H_v)
        return self.classifier(self.dropout(pooled))  # (B, num_classes)
