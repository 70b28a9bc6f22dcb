"""Readers for a user's own files in the formats people already have."""

from .common import FileData
from .conll import read_conll
from .labelled import read_conditioned, read_labelled, read_labelled_documents
from .load import READERS, load_files, read_series, reader_options
from .pairs import read_pairs
from .series import is_series, read_series_csv, read_series_folder
from .text import read_text_file
from .ts import TsData, read_ts

__all__ = [
    "READERS",
    "FileData",
    "TsData",
    "is_series",
    "load_files",
    "read_conditioned",
    "read_conll",
    "read_labelled",
    "read_labelled_documents",
    "read_pairs",
    "read_series",
    "read_series_csv",
    "read_series_folder",
    "read_text_file",
    "read_ts",
    "reader_options",
]
