"""Combine a sweep's shards into one dataset (`lrsim merge DIR OUT`, or at the end of a sweep).

Finished runs (complete or diverged) bring their observables; failed runs, which have
none, become rows of runs.parquet with status `failed` and the error as status_detail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lrsim import __version__
from lrsim.spec import RunSpec
from shared_schema import concat_datasets, read_dataset, write_dataset


def shard_spec(shard: Path) -> RunSpec:
    """The spec a finished run was made with (kept in its hyperparameters)."""
    runs = pd.read_parquet(shard / "runs.parquet", columns=["hyperparameters"])
    return RunSpec.from_json(json.dumps(json.loads(runs["hyperparameters"].iloc[0])["spec"]))


def shards(directory: Path) -> list[Path]:
    """Finished run datasets under DIR/runs (partial runs and temporary files excluded)."""
    runs = directory / "runs"
    if not runs.is_dir():
        return []
    return sorted(p for p in runs.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and not p.name.endswith(".partial"))


def failed_runs(directory: Path) -> pd.DataFrame:
    """runs.parquet rows of the runs that failed, from DIR/failed/*.json."""
    rows = []
    for path in sorted((directory / "failed").glob("*.json")):
        record = json.loads(path.read_text())
        spec = RunSpec.from_json(json.dumps(record["spec"]))
        rows.append({
            "run_id": spec.run_id, "source": "simulation", "learning_rule": spec.rule, "task": spec.task,
            "architecture": spec.architecture, "batch_size": spec.batch_size, "model_seed": spec.model_seed,
            "dataset_seed": spec.dataset_seed, "status": "failed", "status_detail": record["error"],
            "hyperparameters": json.dumps({"spec": record["spec"]}),
        })
    frame = pd.DataFrame(rows)
    for column in ("batch_size", "model_seed", "dataset_seed"):
        if column in frame:
            frame[column] = pd.array(frame[column], dtype="Int64")
    return frame


def merge_sweep(directory: str | Path, out: str | Path | None = None) -> Path:
    """Merge every shard (and failed run) of a sweep directory into one dataset."""
    directory = Path(directory)
    found = shards(directory)
    if not found:
        raise FileNotFoundError(f"{directory}: no finished runs under {directory / 'runs'} to merge")
    merged = concat_datasets([read_dataset(p) for p in found])
    failed = failed_runs(directory)
    runs = merged.runs if failed.empty else pd.concat([merged.runs, failed], ignore_index=True)
    target = Path(out) if out is not None else directory / "dataset"
    return write_dataset(target, runs, merged.observables, units=merged.units, layers=merged.layers,
                         overwrite=True, producer=("lrsim", __version__),
                         description=f"Merged sweep {directory.name}: {len(runs)} runs")
