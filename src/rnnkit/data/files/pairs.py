"""Tab-separated source/target pairs, one a line, for seq2seq (the common translation-pair layout)::

    Go.<TAB>Va !<TAB>CC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #1158250 (Wittydev)

Column 1 is the source, column 2 the target; further columns (such as the attribution of the
Tatoeba/ManyThings files) are ignored and the lines that have them counted in ``extra_columns_ignored``.
Blank lines are skipped and counted. A line with fewer than two columns, or an empty source or target,
is an error naming the file and line.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataFormatError
from ..examples import Seq2SeqExample
from ..tokenize import get_tokenizer
from .common import FileData, read_text, split_lines


def read_pairs(
    path: str | Path,
    *,
    src_tokenizer: str = "lower_words",
    tgt_tokenizer: str = "lower_words",
    reverse: bool = False,
) -> FileData:
    """Seq2seq examples; ``reverse`` swaps the columns (column 2 becomes the source). The tokenizers
    are names for ``tokenize.get_tokenizer`` (``"lower_chars"`` for letters, ``"spaces"`` for phonemes)."""
    file = Path(path)
    src_tok = get_tokenizer(src_tokenizer)
    tgt_tok = get_tokenizer(tgt_tokenizer)
    counts = dict(lines=0, pairs=0, blank_lines_skipped=0, extra_columns_ignored=0)
    examples = []
    for n, line in enumerate(split_lines(read_text(file)), 1):
        counts["lines"] += 1
        if not line.strip():
            counts["blank_lines_skipped"] += 1
            continue
        cols = line.split("\t")
        if len(cols) < 2:
            raise DataFormatError(file, n, "expected a source and a target separated by a tab, found no tab")
        if len(cols) > 2:
            counts["extra_columns_ignored"] += 1
        src, tgt = (cols[1], cols[0]) if reverse else (cols[0], cols[1])
        s, t = tuple(src_tok(src.strip())), tuple(tgt_tok(tgt.strip()))
        if not s or not t:
            raise DataFormatError(file, n, f"empty {'source' if not s else 'target'}")
        examples.append(Seq2SeqExample(s, t))
    counts["pairs"] = len(examples)
    return FileData(tuple(examples), counts, tokenizer=src_tokenizer, target_tokenizer=tgt_tokenizer)
