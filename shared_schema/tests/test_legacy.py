from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from shared_schema import read_dataset, to_legacy
from shared_schema.legacy import (
    UnsafePickleError,
    export_legacy,
    import_legacy,
    read_legacy,
)


def test_import_of_the_original_layout_gives_the_right_arrays(tmp_path: Path, original_layout):
    data = original_layout()
    path = tmp_path / "dataset.pkl"
    path.write_bytes(pickle.dumps(data, protocol=2))
    dataset = read_dataset(import_legacy(path, tmp_path / "imported"))

    assert len(dataset.runs) == 8
    assert sorted(set(dataset.runs["learning_rule"])) == ["adam", "fa", "ia", "sgdm"]
    assert set(dataset.runs["architecture"]) == {"knet4_lrn"}
    assert set(dataset.runs["host"]) == {"gpu0", "gpu1"}  # unknown run-level field kept on runs
    assert sorted(dataset.layers["layer_scale"].unique()) == [0.0, 1.5, 3.0, 4.5]  # layer-level field
    trajectories = dataset.trajectories()
    assert trajectories.shape == (32, 21, 45)
    order = np.argsort([to_legacy(n) for n in trajectories.observables])
    for row, ex in trajectories.examples.iterrows():
        original = next(i for i, m in enumerate(data["meta"])
                        if m["layer"] == ex["layer"] and str(m["batch_size"]) == str(ex["batch_size"])
                        and {"information": "ia", "feedback": "fa"}.get(m["learning_rule"], m["learning_rule"])
                        == ex["learning_rule"])
        np.testing.assert_array_equal(trajectories.values[row][:, order], data["X"][original])
        assert ex["layer_position"] == ["early", "middle", "deep"][int(data["X_cat"][original, 0].argmax())]
    assert np.allclose(trajectories.epochs[0], np.arange(21) * 5.0)  # every 5 of 100 epochs


def test_export_then_import_round_trips_the_arrays(tmp_path: Path, original_layout):
    path = tmp_path / "dataset.pkl"
    path.write_bytes(pickle.dumps(original_layout(k=6), protocol=4))
    first = read_dataset(import_legacy(path, tmp_path / "a", epochs_per_checkpoint=2.0))
    exported = export_legacy(first, tmp_path / "again.npz")
    with np.load(exported, allow_pickle=False) as arrays:
        assert arrays["X"].shape == (32, 6, 45)
        assert set(arrays["meta"]["learning_rule"]) == {"adam", "sgdm", "information", "feedback"}  # original names
        assert arrays["X_cat"].shape == (32, 6, 3)
    second = read_dataset(import_legacy(exported, tmp_path / "b", epochs_per_checkpoint=2.0))
    a, b = first.trajectories(), second.trajectories()
    np.testing.assert_array_equal(a.values, b.values)
    assert list(a.examples["learning_rule"]) == list(b.examples["learning_rule"])


class RunsAShellCommand:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_call_os_system_is_refused_and_nothing_runs(tmp_path: Path, original_layout):
    marker = tmp_path / "pwned"
    data = original_layout()
    data["meta"] = RunsAShellCommand(marker)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(UnsafePickleError) as raised:
        read_legacy(path)
    assert "refers to 'posix.system'" in str(raised.value) or "refers to 'os.system'" in str(raised.value)
    assert "refused before anything was run" in str(raised.value)
    assert not marker.exists()


@pytest.mark.parametrize("payload", [(eval, ("1+1",)), (getattr, ("text", "upper"))])
def test_other_callables_in_a_pickle_are_refused(tmp_path: Path, payload):
    class Evil:
        def __reduce__(self):
            return payload

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"X": Evil()}))
    with pytest.raises(UnsafePickleError, match="not a numpy array type or a builtin container"):
        read_legacy(path)


def test_a_file_missing_the_original_keys_is_refused_naming_them(tmp_path: Path):
    path = tmp_path / "partial.pkl"
    path.write_bytes(pickle.dumps({"X": np.zeros((2, 21, 45))}))
    with pytest.raises(Exception, match="has no 'Y' entry"):
        read_legacy(path)


def test_runs_that_cannot_be_told_apart_ask_for_run_fields(tmp_path: Path, original_layout):
    data = original_layout()
    data["meta"]["batch_size"] = 128  # two networks per rule now share every run factor
    data["meta"]["model_seed"] = "0"
    path = tmp_path / "dataset.pkl"
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(Exception, match="--run-fields"):
        import_legacy(path, tmp_path / "out")
    dataset = read_dataset(import_legacy(path, tmp_path / "out", run_fields=["learning_rule", "host"]))
    assert len(dataset.runs) == 8
