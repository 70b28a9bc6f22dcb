"""A tiny recurrent model, a task and synthetic batch sources that follow the trainer's contracts.

Imported by the tests through the `toys` fixture (conftest.py) and by the DDP worker script directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from rnnkit.training import StepOutput


@dataclass
class SeriesBatch:
    x: torch.Tensor  # (B, T, C) inputs
    y: torch.Tensor  # (B, T, 1) targets

    def to(self, device) -> SeriesBatch:
        return SeriesBatch(self.x.to(device), self.y.to(device))


class TinyRNN(nn.Module):
    """x -> tanh RNN -> dropout -> linear; dropout makes the run depend on the random generator."""

    def __init__(self, input_size: int = 3, hidden_size: int = 8, dropout: float = 0.2) -> None:
        super().__init__()
        self.rnn = nn.RNN(input_size, hidden_size, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        ys, h = self.rnn(x, h0)  # (B, T, H), (1, B, H)
        return self.out(self.drop(ys)), h


class SeriesTask:
    """Mean squared error of the next value; the final hidden state is the carry (truncated BPTT).

    Records what the trainer hands it, so the tests can check carries and teacher-forcing ratios.
    """

    def __init__(self, tbptt: bool = True) -> None:
        self.tbptt = tbptt
        self.seen_carries: list = []
        self.seen_ratios: list[float] = []

    def step(self, model, batch, carry, teacher_forcing: float = 1.0) -> StepOutput:
        self.seen_carries.append(carry)
        self.seen_ratios.append(teacher_forcing)
        pred, h = model(batch.x, carry if self.tbptt else None)
        loss = ((pred - batch.y) ** 2).mean()
        return StepOutput(loss=loss, logs={"mae": (pred - batch.y).abs().mean().item()},
                          carry=h if self.tbptt else None, weight=batch.x.shape[0])


class SeriesSource:
    """`n` batches of (B, T, C) from a fixed data set; with `shuffle`, in an order drawn from a
    torch.Generator seeded by (seed, epoch). Without it, batch i is chunk i of B long streams (TBPTT)."""

    def __init__(self, n: int = 6, B: int = 4, T: int = 5, C: int = 3, seed: int = 0, shuffle: bool = False,
                 dtype: torch.dtype = torch.float64) -> None:
        g = torch.Generator().manual_seed(1000 + seed)
        self.n, self.seed, self.shuffle = n, seed, shuffle
        streams = torch.randn(B, n * T + 1, C, generator=g, dtype=dtype)  # (B, nT + 1, C)
        self.data = [
            SeriesBatch(streams[:, i * T:(i + 1) * T], streams[:, i * T + 1:(i + 1) * T + 1, :1].clone())
            for i in range(n)
        ]
        self.starts: list[tuple[int, int]] = []

    def num_batches(self, epoch: int) -> int:
        return self.n

    def batches(self, epoch: int, start: int = 0):
        self.starts.append((epoch, start))
        order = range(self.n)
        if self.shuffle:
            order = torch.randperm(self.n, generator=torch.Generator().manual_seed(self.seed * 10_007 + epoch)).tolist()
        for i in list(order)[start:]:
            yield self.data[i]


def make(seed: int = 0, dtype: torch.dtype = torch.float64, dropout: float = 0.2) -> TinyRNN:
    torch.manual_seed(seed)
    return TinyRNN(dropout=dropout).to(dtype)
