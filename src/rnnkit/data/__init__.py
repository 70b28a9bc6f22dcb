"""rnnkit.data: vocabularies, tokenizers, batches and batch sources, built-in data sets, a user's files.

Imports only torch, numpy and the standard library (and PyYAML for the dialogue corpus); never models
or training.
"""

from .batch import (
    ClassificationBatch,
    DocumentBatch,
    GenerationBatch,
    Seq2SeqBatch,
    SeriesBatch,
    StreamBatch,
    TaggingBatch,
    length_mask,
)
from .builtin import BUILTINS, BuiltinDataset, get_builtin, installed_builtins, load_builtin
from .dataset import TASKS, Dataset
from .encode import (
    channel_stats,
    classification_source,
    document_source,
    generation_source,
    series_source,
    seq2seq_source,
    stream_source,
    tagging_source,
)
from .errors import DataFormatError, DataOptionError, DatasetNotInstalledError
from .examples import (
    ClassificationExample,
    DocumentExample,
    GenerationExample,
    Seq2SeqExample,
    SeriesExample,
    TaggingExample,
)
from .files import (
    FileData,
    is_series,
    load_files,
    read_conditioned,
    read_conll,
    read_labelled,
    read_labelled_documents,
    read_pairs,
    read_series,
    read_series_csv,
    read_series_folder,
    read_text_file,
    read_ts,
    reader_options,
)
from .sources import BatchSource, BucketBatchSource, StreamBatchSource, epoch_generator
from .split import hash_split, split_items, stable_hash
from .tokenize import (
    TOKENIZER_NAMES,
    TokenizerName,
    chars,
    get_tokenizer,
    joiner,
    nonspace_chars,
    sentences,
    spaces,
    split_document,
    words,
)
from .vocab import BOS, EOS, PAD, SPECIALS, UNK, Vocab
