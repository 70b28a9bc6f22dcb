"""Watching a validation metric: early stopping and reducing the learning rate on a plateau.

Both count evaluations since the monitored value last improved. A value improves on the best so far
when it is lower by more than ``min_delta`` (mode ``min``) or higher by more than ``min_delta``
(mode ``max``). Their state is a few numbers, saved in every checkpoint as JSON.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class MetricTracker:
    """The best value seen and how many evaluations have passed without beating it."""

    mode: str = "min"
    min_delta: float = 0.0
    best: float | None = None
    bad_evals: int = 0

    def update(self, value: float) -> bool:
        """Record ``value``; whether it improved on the best."""
        if not math.isfinite(value):
            improved = False
        elif self.best is None:
            improved = True
        elif self.mode == "min":
            improved = value < self.best - self.min_delta
        else:
            improved = value > self.best + self.min_delta
        if improved:
            self.best, self.bad_evals = value, 0
        else:
            self.bad_evals += 1
        return improved

    def state_dict(self) -> dict[str, Any]:
        return asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_evals = state["best"], state["bad_evals"]


@dataclass
class EarlyStopping:
    """Stop once ``patience`` evaluations in a row have not improved the monitored value."""

    tracker: MetricTracker
    patience: int | None

    def update(self, value: float) -> bool:
        """Record ``value``; whether training should stop now."""
        self.tracker.update(value)
        return self.patience is not None and self.tracker.bad_evals >= self.patience

    def state_dict(self) -> dict[str, Any]:
        return self.tracker.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.load_state_dict(state)


@dataclass
class PlateauScale:
    """A learning-rate multiplier cut by ``factor`` after more than ``patience`` evaluations without
    improvement (as ``torch.optim.lr_scheduler.ReduceLROnPlateau``), never below ``floor``."""

    tracker: MetricTracker
    patience: int
    factor: float
    floor: float
    scale: float = 1.0

    def update(self, value: float) -> None:
        self.tracker.update(value)
        if self.tracker.bad_evals > self.patience:
            self.scale = max(self.floor, self.scale * self.factor)
            self.tracker.bad_evals = 0

    def state_dict(self) -> dict[str, Any]:
        return {**self.tracker.state_dict(), "scale": self.scale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.tracker.load_state_dict(state)
        self.scale = state["scale"]
