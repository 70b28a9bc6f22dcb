"""Shakespeare's scenes as documents of speeches, labelled by play (hierarchical classification).

Source: the same 37 play texts as ``shakespeare`` (``shksprdata/texts/*_gut.txt``). Each play is cut at
its scene headings (``SCENE II.``, ``Scene 3.``, ``ACT II. SCENE I.``); what comes before the first
heading (title, list of persons, an opening prologue) is not part of any scene
(``front_matter_lines_skipped``). In a scene:

- stage directions in ``[...]`` are removed (``stage_directions_removed``), and so are act headings;
- a speech starts at a speaker's line (``HAMLET.``, ``Ham.``, ``First Citizen.``, ``THESEUS``) and runs to the next
  one; the speaker's name itself is dropped, so a model has to recognise a play by its language, not by
  its cast list;
- each speech becomes a sentence of words (``tokenize.words``, lowercased unless ``lowercase=False``).

A document is a scene, its sentences are speeches, its label is the play's file name without ``_gut``
(``hamlet``, ``henry_iv_part_1``, ...). Split by scene, per play (so every play is in every split):
scenes ranked by ``blake2b("shakespeare-scenes/<play>/<scene number>")``, 10 % test, 10 % validation.
Note: *Cymbeline*'s text in the package lacks acts III and IV.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from ..dataset import Dataset
from ..examples import DocumentExample
from ..split import split_items
from ..tokenize import words
from .shakespeare import _stem, play_files, read_text

_SCENE = re.compile(r"^\s*(?:ACT\s+\S+\s+)?SCENE\s+(?:[IVXLC]+|\d+)\b", re.IGNORECASE)
_ACT = re.compile(r"^\s*ACT\s+\S+\s*$", re.IGNORECASE)
_DIRECTION = re.compile(r"\[[^\]]*\]", re.DOTALL)
# A speaker's line: a short name alone on its line, ending in a full stop ("1 Ambassador.", "KING HENRY.")
# or, in one edition (A Midsummer Night's Dream), in capitals without one ("THESEUS").
_SPEAKER = re.compile(r"^(?:\d\s+)?[A-Z][\w' ,&-]{0,40}\.$|^[A-Z][A-Z' &-]{1,40}$")

VALID = 0.1
TEST = 0.1


def _is_speaker(line: str) -> bool:
    return bool(_SPEAKER.match(line)) and len(line.split()) <= 5


def parse_play(text: str, counts: dict[str, int]) -> list[list[str]]:
    """A play's scenes, each a list of speeches (the speech text, speaker and directions removed)."""
    scenes: list[list[str]] = []
    lines = text.splitlines()
    bodies: list[list[str]] = []
    for line in lines:
        if _SCENE.match(line):
            bodies.append([])
        elif bodies:
            bodies[-1].append(line)
        else:
            counts["front_matter_lines_skipped"] += 1
    for body in bodies:
        joined = "\n".join(ln for ln in body if not _ACT.match(ln))
        counts["stage_directions_removed"] += len(_DIRECTION.findall(joined))
        joined = _DIRECTION.sub("", joined)
        speeches: list[list[str]] = []
        after_blank = True
        for line in joined.splitlines():
            line = line.strip()
            if not line:
                after_blank = True
                continue
            if after_blank and _is_speaker(line):
                speeches.append([])
            elif speeches:
                speeches[-1].append(line)
            after_blank = False
        kept = [" ".join(s) for s in speeches if s]
        counts["empty_speeches_skipped"] += len(speeches) - len(kept)
        if kept:
            scenes.append(kept)
        else:
            counts["scenes_without_speech_skipped"] += 1
    return scenes


@functools.lru_cache(maxsize=4)
def _load(files: tuple[Path, ...], lowercase: bool, valid: float, test: float) -> Dataset:
    counts = dict(plays=len(files), scenes=0, speeches=0, front_matter_lines_skipped=0,
                  stage_directions_removed=0, empty_speeches_skipped=0, scenes_without_speech_skipped=0)
    keyed: list[tuple[str, DocumentExample]] = []
    for f in files:
        play = _stem(f)
        for i, scene in enumerate(parse_play(read_text(f)[0], counts)):
            doc = tuple(tuple(words(s, lowercase=lowercase)) for s in scene)
            keyed.append((f"{play}/{i + 1}", DocumentExample(doc, play)))
            counts["scenes"] += 1
            counts["speeches"] += len(doc)
    key = dict((id(e), k) for k, e in keyed)
    splits = split_items(
        [e for _, e in keyed], lambda e: key[id(e)], valid=valid, test=test,
        salt="shakespeare-scenes", stratum=lambda e: e.label,
    )
    labels = tuple(sorted({e.label for _, e in keyed}))
    return Dataset("shakespeare-scenes", "document-classification", splits, counts, labels,
                   tokenizer="lower_words" if lowercase else "words")


def load_shakespeare_scenes(
    path: str | Path | None = None, *, lowercase: bool = True, valid: float = VALID, test: float = TEST
) -> Dataset:
    """Scenes (documents) of speeches (sentences) of words, labelled by play."""
    return _load(tuple(play_files(path)), lowercase, valid, test)
