"""A sweep recorded with unit responses (lrsim `record_units`) is matched to a recording on those
responses: `lrdecode fit --match` draws the recording's unit count from units.parquet, and leaves
out the layers with fewer units (a 10-unit output layer) instead of falling back to settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

SWEEP = """
name = "recorded-units"
description = "two rules, unit responses recorded"
rules = ["sgdm", "fa"]
batch_sizes = [32]
model_seeds = [0, 1, 2]
dataset_seeds = [0]
width = 0.25
epochs = 2
checkpoints = 11
probe_size = 32
record_units = 24

[[tasks]]
name = "digits"
architectures = ["knet4_bn"]
"""


def run(*args: object, cwd: Path) -> str:
    completed = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, cwd=cwd)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return completed.stdout + completed.stderr


def test_a_sweep_recorded_with_units_is_matched_on_unit_responses_without_its_small_output_layer(tmp_path: Path):
    bin_dir = Path(sys.executable).parent
    (tmp_path / "sweep.toml").write_text(SWEEP)
    run(bin_dir / "lrsim", "sweep", "sweep.toml", "--out", "sweep", "--workers", "2", cwd=tmp_path)
    run(bin_dir / "lrdecode", "example-recording", "examples", "--units", "20", cwd=tmp_path)
    run(bin_dir / "lrdecode", "ingest", "examples/recording.npz", "--out", "recording", "--position", "deep",
        cwd=tmp_path)
    printed = run(bin_dir / "lrdecode", "fit", "sweep/dataset", "--match", "recording", "--noise", "0.2", "-c",
                  "logreg", "--splits", "2", "--out", "matched.skops", "-q", cwd=tmp_path)
    assert "limits: 20 units -> 20 measured (units.parquet (unit responses, subsampled after the fact))" in printed
    assert "left out layers with fewer than 20 recorded units: fc4 (10 units, 6 runs)" in printed
    predicted = run(bin_dir / "lrdecode", "predict", "matched.skops", "recording", cwd=tmp_path)
    assert "animal recording:" in predicted
