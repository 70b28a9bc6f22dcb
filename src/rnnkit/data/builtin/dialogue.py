"""Dialogue: the English prompt/reply pairs of the ChatterBot corpus, for seq2seq chat.

Source: ``chatterbot_corpus/data/english/*.yml`` of the ``chatterbot-corpus`` package (read with
PyYAML; the package is never imported). Each file holds ``conversations``, lists of turns; every two
consecutive turns make a pair (prompt = turn i, reply = turn i + 1), so a conversation of n turns gives
n - 1 pairs. Turns that are empty after tokenizing cannot be a prompt or reply; they are counted in
``empty_turns_skipped`` and the pairs they would have formed in ``pairs_skipped``. A conversation that
is not a list of text turns is skipped and counted in ``malformed_conversations_skipped``: the corpus
has one, in ``trivia.yml``, where a missing ``- `` turned a question and its answer into one string.

Words come from ``tokenize.words``, lowercased unless ``lowercase=False``. Split by prompt, so all
replies to the same prompt share a side: distinct prompts ranked by ``blake2b("dialogue/<prompt>")``,
10 % test, 10 % validation. ``Dataset.references`` gives every reply to a prompt.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from ..dataset import Dataset
from ..errors import DataFormatError
from ..examples import Seq2SeqExample
from ..split import split_items
from ..tokenize import words
from .locate import resolve

VALID = 0.1
TEST = 0.1

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=4)
def _load(root: Path, lowercase: bool, valid: float, test: float) -> Dataset:
    files = [root] if root.is_file() else sorted(root.glob("*.yml"))
    if not files:
        raise DataFormatError(root, None, "no .yml files in this folder")
    counts = dict(files=len(files), conversations=0, pairs=0, empty_turns_skipped=0, pairs_skipped=0,
                  malformed_conversations_skipped=0)
    examples = []
    for file in files:
        try:
            doc = yaml.load(file.read_text(encoding="utf-8"), Loader=_Loader)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise DataFormatError(file, mark.line + 1 if mark else None, f"not valid YAML: {e}") from None
        convs = doc.get("conversations") if isinstance(doc, dict) else None
        if not isinstance(convs, list):
            raise DataFormatError(file, None, "expected a mapping with a 'conversations' list")
        for c, conv in enumerate(convs, 1):
            if not isinstance(conv, list) or not all(isinstance(t, (str, int, float)) for t in conv):
                counts["malformed_conversations_skipped"] += 1
                continue
            counts["conversations"] += 1
            turns = [tuple(words(str(t), lowercase=lowercase)) for t in conv]
            counts["empty_turns_skipped"] += sum(not t for t in turns)
            for prompt, reply in zip(turns, turns[1:]):
                if prompt and reply:
                    examples.append(Seq2SeqExample(prompt, reply))
                else:
                    counts["pairs_skipped"] += 1
    counts["pairs"] = len(examples)
    splits = split_items(examples, lambda e: " ".join(e.src), valid=valid, test=test, salt="dialogue")
    tokenizer = "lower_words" if lowercase else "words"
    return Dataset("dialogue", "seq2seq", splits, counts, tokenizer=tokenizer, target_tokenizer=tokenizer)


def load_dialogue(
    path: str | Path | None = None, *, lowercase: bool = True, valid: float = VALID, test: float = TEST
) -> Dataset:
    """Prompt/reply pairs; ``path``: a folder of ChatterBot ``.yml`` files, or one such file."""
    root = resolve(path, "chatterbot_corpus", "data", "english", pip="chatterbot-corpus==1.3.3")
    return _load(root, lowercase, valid, test)
