"""Checkpoint files: exact round trip, atomic writes, and refusal of anything unsafe or foreign."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lrsim.checkpoints as ckpt
from lrsim.checkpoints import (
    CheckpointError,
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)


def _arrays(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "model.0000": rng.normal(size=(3, 3, 2, 4)).astype(np.float32),
        "model.0001": np.array([seed, 7], np.int64),
        "optimizer.0000": np.array(5, np.int64),
    }


def test_round_trip_is_bit_exact_with_metadata(tmp_path):
    arrays = _arrays(1)
    path = save_checkpoint(tmp_path, 3, arrays, {"global_step": 30, "history": [{"loss": 0.5}]})
    assert path == checkpoint_path(tmp_path, 3) and path.name == "epoch-0003.npz"
    loaded, meta = load_checkpoint(path)
    assert loaded.keys() == arrays.keys()
    for key, value in arrays.items():
        assert loaded[key].dtype == value.dtype and np.array_equal(loaded[key], value)
    assert meta == {"format": "lrsim-checkpoint", "format_version": 1, "global_step": 30, "history": [{"loss": 0.5}]}


def test_interrupted_write_leaves_the_previous_checkpoint_intact_and_no_temporary_file(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, 1, _arrays(1), {"epoch": 1})

    def interrupted(handle, **payload):
        handle.write(b"PK partial zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(ckpt.np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, 2, _arrays(2), {"epoch": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["epoch-0001.npz"]
    assert latest_checkpoint(tmp_path) == checkpoint_path(tmp_path, 1)
    assert load_checkpoint(latest_checkpoint(tmp_path))[1]["epoch"] == 1


def test_listing_orders_by_epoch_ignores_temporary_files_and_prune_keeps_the_newest(tmp_path):
    for epoch in (2, 10, 1):
        save_checkpoint(tmp_path, epoch, _arrays(epoch), {})
    (tmp_path / ".epoch-0011.npz.abc.tmp").write_bytes(b"half")
    assert [p.name for p in list_checkpoints(tmp_path)] == ["epoch-0001.npz", "epoch-0002.npz", "epoch-0010.npz"]
    prune_checkpoints(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch-0002.npz", "epoch-0010.npz"]
    assert list_checkpoints(tmp_path / "missing") == [] and latest_checkpoint(tmp_path / "missing") is None
    with pytest.raises(ValueError, match="at least 1"):
        prune_checkpoints(tmp_path, keep=0)


def test_a_file_holding_pickled_objects_is_refused_not_unpickled(tmp_path):
    path = tmp_path / "epoch-0001.npz"
    np.savez(
        path,
        metadata=np.array(json.dumps({"format": "lrsim-checkpoint", "format_version": 1})),
        evil=np.array([{"a": 1}], dtype=object),
    )
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_checkpoint(path)


def test_truncated_foreign_or_newer_files_are_refused_with_the_fix(tmp_path):
    good = save_checkpoint(tmp_path, 1, _arrays(1), {})
    truncated = tmp_path / "epoch-0002.npz"
    truncated.write_bytes(good.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="delete it to resume from the previous one"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    with pytest.raises(CheckpointError, match="not written by lrsim"):
        load_checkpoint(foreign)
    newer = tmp_path / "newer.npz"
    np.savez(newer, metadata=np.array(json.dumps({"format": "lrsim-checkpoint", "format_version": 2})))
    with pytest.raises(CheckpointError, match="format version 2; this lrsim reads version 1"):
        load_checkpoint(newer)
    with pytest.raises(ValueError, match="reserved"):
        save_checkpoint(tmp_path, 3, {"metadata": np.zeros(1)}, {})
