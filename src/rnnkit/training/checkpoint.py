"""Checkpoints: safetensors and JSON only, written atomically, the last few kept.

Layout of a run's checkpoint folder::

    checkpoints/
        latest                  # text: the name of the newest complete checkpoint, e.g. "step-00000120"
        best                    # text: the checkpoint with the best monitored metric (when evaluated)
        step-00000120/
            model.safetensors   # the model's state_dict
            optimizer.safetensors, optimizer.json   # optimizer state: its tensors, and the JSON layout around them
            config.json         # the full TrainConfig
            extras.json         # whatever JSON-able dict the caller passed (vocabularies, model settings)
            trainer.json        # position (epoch, batch, step), schedule and early-stopping state, elapsed time
            rank-0.safetensors, rank-0.json         # per process: random generator states and the carry
            manifest.json       # size and SHA-256 of every other file, written last

Nothing is loaded through pickle: tensors come from safetensors, everything else from JSON (see
:mod:`.serialize`).

**Atomic writes.** A checkpoint is written into a temporary folder ``.tmp-<name>`` beside the others; every
file is flushed and ``fsync``-ed, then the folder itself. Only then is it renamed to ``<name>``
(``os.replace``, atomic on POSIX within one file system) and the ``latest`` pointer replaced the same way
(written to ``.latest.tmp``, ``fsync``, ``os.replace``). A process killed at any moment leaves either the
old pointer to the old, complete checkpoint, or the new pointer to the new, complete one; a half-written
temporary folder is never pointed to and is deleted at the next save. The manifest's checksums let
:func:`load_checkpoint` name a file damaged later (disk errors, a hand edit).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import TrainConfig
from .serialize import flatten, unflatten, unshare

FORMAT = 1
_STEP_NAME = re.compile(r"^step-(\d+)$")


class CheckpointError(RuntimeError):
    """A checkpoint is missing, incomplete or damaged; the message names the file."""


def step_name(step: int) -> str:
    return f"step-{step:08d}"


def begin(root: str | os.PathLike, name: str) -> Path:
    """A fresh, empty temporary folder in ``root`` to write checkpoint ``name`` into."""
    tmp = Path(root) / f".tmp-{name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def write_tensors(folder: Path, filename: str, tensors: dict[str, torch.Tensor]) -> None:
    """``tensors`` to ``folder/filename`` in safetensors format, flushed to disk."""
    path = folder / filename
    save_file(unshare(tensors), str(path))
    _fsync_file(path)


def write_json(folder: Path, filename: str, value: Any) -> None:
    """``value`` to ``folder/filename`` as JSON, flushed to disk."""
    path = folder / filename
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def write_tree(folder: Path, stem: str, value: Any) -> None:
    """A nested value (optimizer state, carry) as ``stem.safetensors`` plus its layout in ``stem.json``."""
    tensors, layout = flatten(value, stem)
    write_tensors(folder, f"{stem}.safetensors", tensors)
    write_json(folder, f"{stem}.json", layout)


def commit(root: str | os.PathLike, name: str, *, pointers: tuple[str, ...] = ("latest",), keep_last: int) -> Path:
    """Seal the temporary folder of ``name``, rename it into place, point ``pointers`` at it, prune old ones."""
    root = Path(root)
    tmp = root / f".tmp-{name}"
    manifest = {
        "format": FORMAT,
        "files": {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in sorted(tmp.iterdir())},
    }
    write_json(tmp, "manifest.json", manifest)
    _fsync_dir(tmp)
    final = root / name
    if final.exists():
        if name in {read_pointer(root, p) for p in ("latest", "best")}:
            raise CheckpointError(f"{final} is already a saved checkpoint that a pointer refers to")
        shutil.rmtree(final)  # left by a run that stopped before pointing to it
    os.replace(tmp, final)
    _fsync_dir(root)
    for pointer in pointers:
        write_pointer(root, pointer, name)
    prune(root, keep_last)
    return final


def abort(root: str | os.PathLike, name: str) -> None:
    """Remove the temporary folder of a checkpoint whose writing failed."""
    shutil.rmtree(Path(root) / f".tmp-{name}", ignore_errors=True)


def write_pointer(root: Path, pointer: str, name: str) -> None:
    tmp = root / f".{pointer}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, root / pointer)
    _fsync_dir(root)


def read_pointer(root: str | os.PathLike, pointer: str) -> str | None:
    path = Path(root) / pointer
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


def prune(root: Path, keep_last: int) -> None:
    """Delete all but the ``keep_last`` newest checkpoints up to ``latest`` (and the ``best`` one), and any
    temporary folders left by interrupted writes."""
    latest = read_pointer(root, "latest")
    if latest is None:
        return
    latest_step = _step_of(latest)
    steps = sorted((s, p.name) for p in root.iterdir() if p.is_dir() and (s := _step_of(p.name)) is not None)
    saved = [name for s, name in steps if latest_step is None or s <= latest_step]
    keep = set(saved[-keep_last:]) | {latest, read_pointer(root, "best")}
    for _, name in steps:
        if name not in keep:
            shutil.rmtree(root / name, ignore_errors=True)
    for path in root.glob(".tmp-*"):
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class Checkpoint:
    """A loaded checkpoint. ``model`` is a state_dict for ``model.load_state_dict``."""

    path: Path
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any] | None
    config: TrainConfig
    extras: dict[str, Any]
    trainer: dict[str, Any]

    def rank_state(self, rank: int) -> dict[str, Any]:
        """The random generator states and carry process ``rank`` saved."""
        if not (self.path / f"rank-{rank}.json").exists():
            raise CheckpointError(
                f"{self.path} has no state for process rank {rank} (rank-{rank}.json): it was written by "
                f"{self.trainer.get('world_size')} process(es); resume with the same number"
            )
        return _read_tree(self.path, f"rank-{rank}")


def resolve(path: str | os.PathLike, which: str = "latest") -> Path:
    """The checkpoint folder ``path`` refers to: a checkpoint folder itself, a checkpoints folder (follows
    its ``which`` pointer: ``latest`` or ``best``) or a run folder holding ``checkpoints/``."""
    path = Path(path)
    if (path / "manifest.json").is_file():
        return path
    for root in (path, path / "checkpoints"):
        name = read_pointer(root, which)
        if name is not None:
            target = root / name
            if not target.is_dir():
                raise CheckpointError(f"{root / which} points to {name!r}, but {target} does not exist")
            return target
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}: the path does not exist")
    raise CheckpointError(
        f"no checkpoint at {path}: it is not a checkpoint folder (no manifest.json) and holds no "
        f"'{which}' pointer (nor does {path / 'checkpoints'})"
    )


def load_checkpoint(path: str | os.PathLike, which: str = "latest", *, verify: bool = True) -> Checkpoint:
    """Load the checkpoint ``path`` refers to (see :func:`resolve`), checking every file against the
    manifest. Raises :class:`CheckpointError` naming the missing or damaged file."""
    folder = resolve(path, which)
    manifest = _read_json(folder / "manifest.json")
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise CheckpointError(f"{folder / 'manifest.json'} has no 'files' table")
    for name in ("model.safetensors", "config.json", "extras.json", "trainer.json"):
        if name not in files:
            raise CheckpointError(f"{folder} is incomplete: its manifest lists no {name}")
    if verify:
        for name, expected in files.items():
            file = folder / name
            if not file.is_file():
                raise CheckpointError(f"checkpoint file {file} is missing")
            if file.stat().st_size != expected["bytes"] or _sha256(file) != expected["sha256"]:
                raise CheckpointError(f"checkpoint file {file} is damaged: its size or SHA-256 differs from the manifest")
    trainer = _read_json(folder / "trainer.json")
    if trainer.get("format") != FORMAT:
        raise CheckpointError(f"{folder / 'trainer.json'} has format {trainer.get('format')!r}; this rnnkit reads {FORMAT}")
    try:
        config = TrainConfig.from_dict(_read_json(folder / "config.json"))
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{folder / 'config.json'}: {err}") from err
    optimizer = _read_tree(folder, "optimizer") if "optimizer.json" in files else None
    return Checkpoint(
        path=folder,
        model=_read_tensors(folder / "model.safetensors"),
        optimizer=optimizer,
        config=config,
        extras=_read_json(folder / "extras.json"),
        trainer=trainer,
    )


def _read_tree(folder: Path, stem: str) -> Any:
    tensors = _read_tensors(folder / f"{stem}.safetensors")
    try:
        return unflatten(_read_json(folder / f"{stem}.json"), tensors)
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{folder / (stem + '.json')} does not match {stem}.safetensors: {err}") from err


def _read_tensors(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} is missing")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise CheckpointError(f"checkpoint file {path} is not a readable safetensors file: {err}") from err


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} is missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"checkpoint file {path} is not valid JSON: {err}") from err


def _step_of(name: str) -> int | None:
    match = _STEP_NAME.match(name)
    return int(match.group(1)) if match else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
