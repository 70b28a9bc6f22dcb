"""Readers for a user's own files in the formats people already have."""

from .common import FileData
from .conll import read_conll
from .labelled import read_labelled, read_labelled_documents
from .load import READERS, load_files
from .pairs import read_pairs
from .series import read_series_csv, read_series_folder
from .text import read_text_file
from .ts import TsData, read_ts

__all__ = [
    "READERS",
    "FileData",
    "TsData",
    "load_files",
    "read_conll",
    "read_labelled",
    "read_labelled_documents",
    "read_pairs",
    "read_series_csv",
    "read_series_folder",
    "read_text_file",
    "read_ts",
]
