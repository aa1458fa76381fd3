from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from shared_schema.cli import app

runner = CliRunner()


def test_validate_accepts_a_valid_dataset_with_exit_0(dataset_dir: Path):
    result = runner.invoke(app, ["validate", str(dataset_dir)])
    assert result.exit_code == 0
    assert "is a valid lr-observables dataset (format 1.1.0): 8 run(s), 10,800 observable values" in result.output


def test_validate_explains_an_invalid_dataset_in_one_paragraph_with_exit_1(dataset_dir: Path):
    manifest = json.loads((dataset_dir / "manifest.json").read_text())
    manifest["format_version"] = "3.0.0"
    (dataset_dir / "manifest.json").write_text(json.dumps(manifest))
    result = runner.invoke(app, ["validate", str(dataset_dir)])
    assert result.exit_code == 1
    assert "is not a valid lr-observables dataset" in result.output
    assert "format_version 3.0.0" in result.output and "Fix: upgrade shared_schema" in result.output
    assert "Traceback" not in result.output


def test_validate_of_a_truncated_file_shows_no_library_traceback(dataset_dir: Path):
    (dataset_dir / "runs.parquet").write_bytes(b"PAR1garbage")
    result = runner.invoke(app, ["validate", str(dataset_dir)])
    assert result.exit_code == 1
    assert "runs.parquet: is not a readable Parquet file" in result.output
    assert "Traceback" not in result.output and "pyarrow.lib" not in result.output


def test_info_lists_runs_rules_layers_checkpoints_statistics_and_version(dataset_dir: Path):
    result = runner.invoke(app, ["info", str(dataset_dir)])
    assert result.exit_code == 0, result.output
    for expected in ("lr-observables 1.1.0", "runs            8 (complete 8; simulation 8)",
                     "adam 2, fa 2, ia 2, sgdm 2", "24 (3-3 per run)", "5-5 per run",
                     "statistics      all 45 (weight 21, act 21, grad 3)"):
        assert expected in result.output, expected
    as_json = json.loads(runner.invoke(app, ["info", "--json", str(dataset_dir)]).output)
    assert as_json["learning_rules"] == {"adam": 2, "fa": 2, "ia": 2, "sgdm": 2}


def test_info_of_a_missing_directory_is_a_clear_error(tmp_path: Path):
    result = runner.invoke(app, ["info", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "the dataset path does not exist" in result.output


def test_names_lists_45_canonical_and_original_names():
    lines = runner.invoke(app, ["names"]).output.strip().splitlines()
    assert len(lines) == 45 and lines[0].split() == ["weight.raw.norm", "weightraw_norm"]


def test_import_and_export_legacy_from_the_command_line(tmp_path: Path, original_layout):
    pkl = tmp_path / "dataset.pkl"
    pkl.write_bytes(pickle.dumps(original_layout()))
    result = runner.invoke(app, ["import-legacy", str(pkl), str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    assert "8 runs, 30,240 values" in result.output
    result = runner.invoke(app, ["export-legacy", str(tmp_path / "ds"), str(tmp_path / "out.npz")])
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "out.npz", allow_pickle=False)["X"].shape == (32, 21, 45)
    again = runner.invoke(app, ["import-legacy", str(pkl), str(tmp_path / "ds")])
    assert again.exit_code == 1 and "already exists" in again.output
