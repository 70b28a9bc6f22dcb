"""Training logs: a CSV file always, TensorBoard events when asked, a progress bar on a terminal.

The CSV log has one row per logged step: ``step, epoch, batch, loss, lr, grad_norm, teacher_forcing``,
then the task's own numbers and the validation metrics (``val_*``, filled on the rows where an evaluation
ran), then ``elapsed`` (seconds of training, summed over resumed runs). A column first seen mid-run
(the first validation metric) widens the header: the file is rewritten with the new column, earlier rows
leaving it empty. A resumed run first drops the rows after its checkpoint's step, which it redoes.
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path
from typing import Any

FIRST_COLUMNS = ["step", "epoch", "batch", "loss", "lr", "grad_norm", "teacher_forcing"]
LAST_COLUMNS = ["elapsed"]


class CsvLog:
    """Rows of numbers appended to a CSV file, flushed after every row."""

    def __init__(self, path: str | os.PathLike, *, resume_step: int | None = None) -> None:
        """Start ``path`` afresh, or with ``resume_step`` keep its rows up to that step."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.columns: list[str] = []
        rows: list[dict[str, str]] = []
        if resume_step is not None and self.path.is_file():
            with open(self.path, newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                self.columns = list(reader.fieldnames or [])
                rows = [r for r in reader if r.get("step") and int(r["step"]) <= resume_step]
        self._rewrite(rows)

    def write(self, row: dict[str, Any]) -> None:
        new = [k for k in row if k not in self.columns]
        if new:
            with open(self.path, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            middle = [c for c in self.columns + new if c not in FIRST_COLUMNS + LAST_COLUMNS]
            self.columns = [c for c in FIRST_COLUMNS if c in self.columns or c in row] + middle + [
                c for c in LAST_COLUMNS if c in self.columns or c in row
            ]
            self._rewrite(rows)
        self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        self._file.close()

    def _rewrite(self, rows: list[dict[str, str]]) -> None:
        if getattr(self, "_file", None) is not None:
            self._file.close()
        self._file = open(self.path, "w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._file, fieldnames=self.columns, restval="")
        if self.columns:
            self._writer.writeheader()
        self._writer.writerows(rows)
        self._file.flush()


class TensorBoardLog:
    """Scalars to TensorBoard event files through ``torch.utils.tensorboard``."""

    def __init__(self, folder: str | os.PathLike) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise ImportError(
                "TrainConfig.tensorboard=True needs the tensorboard package, which is not installed: "
                "pip install 'rnnkit[tensorboard]' (or set tensorboard=False; the CSV log is always written)"
            ) from err
        self._writer = SummaryWriter(log_dir=str(folder))

    def write(self, row: dict[str, Any]) -> None:
        step = int(row["step"])
        for key, value in row.items():
            if key not in ("step", "epoch", "batch") and isinstance(value, (int, float)):
                self._writer.add_scalar(key, value, step)

    def close(self) -> None:
        self._writer.close()


def progress_bar(total: int, initial: int, enabled: bool | None) -> Any:
    """A tqdm bar over optimizer steps (rate and ETA included); ``enabled=None``: only on a terminal."""
    from tqdm import tqdm

    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(total=total, initial=initial, disable=not show, unit="step", dynamic_ncols=True, leave=True)

