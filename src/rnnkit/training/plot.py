"""A picture of a training log: loss (with validation metrics), learning rate and gradient norm by step.

matplotlib is imported only here, when a plot is asked for, and through its object interface (no
``pyplot``), so plotting neither needs a display nor changes the caller's matplotlib backend.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path


def plot_log(csv_path: str | os.PathLike, png_path: str | os.PathLike) -> Path:
    """Plot the CSV log ``csv_path`` (see :mod:`.logs`) to the PNG ``png_path``; the PNG's path."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError("plot_log needs matplotlib, which is not installed: pip install 'rnnkit[plot]'") from err
    csv_path, png_path = Path(csv_path), Path(png_path)
    if not csv_path.is_file():
        raise FileNotFoundError(f"no training log at {csv_path}")
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or "step" not in rows[0]:
        raise ValueError(f"{csv_path} holds no log rows with a 'step' column")

    def series(column: str) -> tuple[list[int], list[float]]:
        points = [(int(r["step"]), float(r[column])) for r in rows if r.get(column) not in (None, "")]
        return [p[0] for p in points], [p[1] for p in points]

    val_columns = [c for c in rows[0] if c.startswith("val_")]
    panels = [("loss", ["loss", *[c for c in val_columns if c == "val_loss"]]),
              ("validation metrics", [c for c in val_columns if c != "val_loss"]),
              ("learning rate", ["lr"]), ("gradient norm", ["grad_norm"])]
    panels = [(title, cols) for title, cols in panels if any(series(c)[0] for c in cols)]
    fig = Figure(figsize=(7, 2.4 * len(panels)), layout="constrained")
    for ax, (title, columns) in zip(fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0], panels):
        for column in columns:
            ax.plot(*series(column), label=column, marker="o" if column.startswith("val_") else None)
        ax.set_title(title)
        ax.legend(loc="best")
    fig.axes[-1].set_xlabel("step")
    png_path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_path, dpi=100)
    return png_path
