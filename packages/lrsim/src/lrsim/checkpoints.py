"""Per-epoch training checkpoints: one NumPy ``.npz`` file each, written atomically.

A checkpoint holds every model variable (weights, backward kernels B, batch-norm statistics,
dropout seed-generator states), every optimizer variable (iteration count, momentum or Adam
slots) and a JSON metadata record (run configuration, seeds, epochs completed, global step,
history). It is one file, so writing it to a temporary name and renaming it (`os.replace`)
makes it appear whole or not at all: an interrupted run keeps its last complete checkpoint.
Files are read with ``allow_pickle=False``; nothing in them is ever unpickled.

Layout: ``<directory>/epoch-0003.npz`` after the third epoch; arrays ``model.0000``...,
``optimizer.0000``... in variable order, and ``metadata`` (a JSON string).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "checkpoint_path",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "prune_checkpoints",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "lrsim-checkpoint"
CHECKPOINT_VERSION = 1
_NAME = re.compile(r"^epoch-(\d{4,})\.npz$")
_METADATA_KEY = "metadata"


class CheckpointError(RuntimeError):
    """A checkpoint file that cannot be read or does not fit the run."""


def checkpoint_path(directory: str | os.PathLike[str], epoch: int) -> Path:
    """The file of the checkpoint written after `epoch` epochs."""
    return Path(directory) / f"epoch-{int(epoch):04d}.npz"


def list_checkpoints(directory: str | os.PathLike[str]) -> list[Path]:
    """Checkpoint files in `directory`, oldest first (temporary files are not listed)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(directory: str | os.PathLike[str]) -> Path | None:
    """The newest checkpoint file in `directory`, or None."""
    found = list_checkpoints(directory)
    return found[-1] if found else None


def save_checkpoint(
    directory: str | os.PathLike[str],
    epoch: int,
    arrays: Mapping[str, np.ndarray],
    metadata: Mapping[str, Any],
) -> Path:
    """Write `arrays` and `metadata` as the checkpoint after `epoch` epochs, atomically."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if _METADATA_KEY in arrays:
        raise ValueError(f"array name {_METADATA_KEY!r} is reserved for the checkpoint metadata")
    record = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, **metadata}
    payload = {**{k: np.asarray(v) for k, v in arrays.items()}, _METADATA_KEY: np.array(json.dumps(record))}
    target = checkpoint_path(directory, epoch)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)
    return target


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and metadata of one checkpoint file (never unpickles anything)."""
    path = Path(path)
    try:
        with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({err}); delete it to resume from the previous one"
        ) from None
    if _METADATA_KEY not in arrays:
        raise CheckpointError(f"checkpoint {path} has no {_METADATA_KEY!r} record; it was not written by lrsim")
    try:
        metadata = json.loads(str(arrays.pop(_METADATA_KEY)))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"checkpoint {path}: its metadata is not valid JSON ({err})") from None
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"checkpoint {path} is not an {CHECKPOINT_FORMAT} file (format {metadata.get('format')!r})"
        )
    version = metadata.get("format_version")
    if version != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"checkpoint {path} has format version {version!r}; this lrsim reads version {CHECKPOINT_VERSION}. "
            "Resume it with the lrsim release that wrote it"
        )
    return arrays, metadata


def prune_checkpoints(directory: str | os.PathLike[str], keep: int) -> None:
    """Delete all but the newest `keep` checkpoints (keep >= 1), and stale temporary files."""
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink()
    for stale in Path(directory).glob(".epoch-*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
