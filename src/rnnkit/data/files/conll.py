"""CoNLL-style tagging files: one token a line with its tag in a column, a blank line between sentences::

    EU NNP B-NP B-ORG
    rejects VBZ B-VP O
    German JJ B-NP B-MISC

    Peter NNP B-NP B-PER

Columns are separated by white space (or ``delimiter``); the token is column ``token_column`` (0) and
the tag column ``tag_column`` (-1, the last), so CoNLL-2000 chunking, CoNLL-2003 NER and two-column
``token tag`` files all read as they are. Every line of a file must have the same number of columns.
``-DOCSTART-`` lines (document boundaries in CoNLL-2003) are skipped and counted, as are extra blank
lines; with ``comment_prefix`` (``"#"`` for CoNLL-U) so are comment lines. A line with too few columns
or a different column count is an error naming the file and line.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataFormatError
from ..examples import TaggingExample
from .common import FileData, read_text, split_lines


def read_conll(
    path: str | Path,
    *,
    token_column: int = 0,
    tag_column: int = -1,
    delimiter: str | None = None,
    comment_prefix: str | None = None,
) -> FileData:
    file = Path(path)
    counts = dict(lines=0, sentences=0, tokens=0, docstart_lines_skipped=0, extra_blank_lines_skipped=0,
                  comment_lines_skipped=0)
    examples: list[TaggingExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    width: int | None = None

    def close() -> None:
        if tokens:
            examples.append(TaggingExample(tuple(tokens), tuple(tags)))
            tokens.clear()
            tags.clear()
        else:
            counts["extra_blank_lines_skipped"] += 1

    for n, line in enumerate(split_lines(read_text(file)), 1):
        counts["lines"] += 1
        if comment_prefix and line.startswith(comment_prefix):
            counts["comment_lines_skipped"] += 1
            continue
        if not line.strip():
            close()
            continue
        cols = line.split(delimiter) if delimiter else line.split()
        if cols[0] == "-DOCSTART-":
            counts["docstart_lines_skipped"] += 1
            continue
        if width is None:
            width = len(cols)
            for c, what in ((token_column, "token"), (tag_column, "tag")):
                if not -width <= c < width or width < 2:
                    raise DataFormatError(file, n, f"{what} column {c} does not exist in a line of "
                                                   f"{width} column(s); expected at least a token and a tag")
        elif len(cols) != width:
            raise DataFormatError(file, n, f"expected {width} columns like the first token line, found {len(cols)}")
        tokens.append(cols[token_column])
        tags.append(cols[tag_column])
    if tokens:
        close()
    if not examples:
        raise DataFormatError(file, None, "no sentences")
    counts["sentences"] = len(examples)
    counts["tokens"] = sum(len(e.tokens) for e in examples)
    # The tokens come split, one a line; new text to tag is split at white space.
    return FileData(tuple(examples), counts, tokenizer="spaces")
