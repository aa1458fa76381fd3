"""Small example recordings in each format, for documentation and tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lrdecode import __version__
from lrdecode.recordings.nwb import write_example_nwb
from shared_schema import Dataset, Observable
from shared_schema.names import layer_positions
from shared_schema.statistics import act_statistics


def example_responses(sessions: int = 5, stimuli: int = 40, units: int = 60, seed: int = 0) -> np.ndarray:
    """Non-negative rates (sessions, stimuli, units) whose selectivity sharpens over sessions."""
    rng = np.random.default_rng(seed)
    tuning = rng.gamma(2.0, 1.0, size=(stimuli, units))
    baseline = rng.gamma(4.0, 0.5, size=units)
    growth = np.linspace(0.2, 1.0, sessions)[:, None, None]
    rates = baseline + growth * tuning + rng.normal(scale=0.1, size=(sessions, stimuli, units))
    return np.maximum(rates, 0.0)


def write_example(path: Path, format: str, *, sessions: int = 5, stimuli: int = 40, units: int = 60,
                  area: str = "V1", seed: int = 0, responses: np.ndarray | None = None,
                  days: Sequence[float] | None = None) -> list[Path]:
    """Write an example recording (.npz, .csv, or a directory of .nwb files); returns the files.

    responses (sessions, stimuli, units) and days default to `example_responses` every 2 days.
    """
    if responses is None:
        responses = example_responses(sessions, stimuli, units, seed)
    sessions, stimuli, units = responses.shape
    days = np.arange(sessions, dtype=float) * 2.0 if days is None else np.asarray(days, dtype=float)
    if format == "nwb":
        return write_example_nwb(path, responses, days, area=area)
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "npz":
        np.savez(path, responses=responses, session_times=days, unit_ids=np.arange(units) + 100,
                 unit_areas=np.full(units, area))
        return [path]
    if format == "csv":
        s, k, u = np.meshgrid(np.arange(sessions), np.arange(stimuli), np.arange(units), indexing="ij")
        pd.DataFrame({"session": s.reshape(-1), "time": days[s.reshape(-1)], "stimulus": k.reshape(-1),
                      "unit": u.reshape(-1) + 100, "area": area, "response": responses.reshape(-1)}
                     ).to_csv(path, index=False)
        return [path]
    raise ValueError(f"unknown format {format!r}; use nwb, npz or csv")


# A toy model of learning in a population of rate units, for the end-to-end example and tests.
# Each rule changes the response distribution over training in its own way (t in [0, 1]):
# rates = relu(scale * (baseline + gain * tuning) + shift - threshold), with
# gain = amplitude * t**power, shift = drift * t and threshold = sparsen * t. It is a toy, not
# a claim about any rule: it only gives act statistics whose trajectories tell the rules apart.
TOY_RULES: dict[str, tuple[float, float, float, float]] = {
    # rule: (amplitude, power, drift, sparsen)
    "sgdm": (1.0, 1.0, 0.0, 0.0),
    "adam": (1.0, 0.4, 0.0, 0.0),
    "fa": (0.5, 1.0, 1.0, 0.0),
    "ia": (1.0, 1.0, 0.0, 1.5),
}


def toy_responses(rule: str, *, checkpoints: int, stimuli: int, units: int, layer: int = 0,
                  seed: int = 0) -> np.ndarray:
    """Rates (checkpoints, stimuli, units) of one layer of one toy network trained by `rule`."""
    if rule not in TOY_RULES:
        raise ValueError(f"unknown toy rule {rule!r}; use one of {', '.join(TOY_RULES)}")
    amplitude, power, drift, sparsen = TOY_RULES[rule]
    rng = np.random.default_rng([seed, layer])
    scale = rng.uniform(0.9, 1.1) * (1.0 + 0.3 * layer)
    tuning = rng.gamma(2.0, 1.0, size=(stimuli, units))
    baseline = rng.gamma(4.0, 0.5, size=units)
    t = np.linspace(0.0, 1.0, checkpoints)[:, None, None]
    rates = scale * (baseline + amplitude * t**power * tuning) + drift * t - sparsen * t
    rates = rates + rng.normal(scale=0.1, size=rates.shape)
    return np.maximum(rates, 0.0)


def toy_simulated_dataset(*, runs_per_rule: int = 6, n_layers: int = 3, checkpoints: int = 21,
                          stimuli: int = 20, units: int = 50, rules: tuple[str, ...] = tuple(TOY_RULES),
                          seed: int = 0) -> Dataset:
    """A simulated dataset of toy networks: act statistics of every unit, and the unit responses.

    One run per (rule, replicate), epochs 0..checkpoints-1; units.parquet holds every unit's
    response to every stimulus at every checkpoint, so measurement limits can be applied later.
    """
    names = [Observable("act", f, s).name for f in ("raw", "abs", "sq")
             for s in ("norm", "mean", "median", "q3", "var", "skew", "kurtosis")]
    positions = layer_positions(n_layers)
    run_rows, statistics, responses = [], [], []
    for r, rule in enumerate(rules):
        for replicate in range(runs_per_rule):
            run_rows.append({"run_id": f"toy{r * runs_per_rule + replicate:03d}_{rule}", "learning_rule": rule,
                             "model_seed": replicate})
            for layer in range(n_layers):
                rates = toy_responses(rule, checkpoints=checkpoints, stimuli=stimuli, units=units, layer=layer,
                                      seed=seed * 100_000 + r * 1000 + replicate)
                responses.append(rates)
                for c in range(checkpoints):
                    values = act_statistics(rates[c])
                    statistics.append([values[n] for n in names])
    run_ids = [row["run_id"] for row in run_rows]
    layer_names = [f"layer{i}" for i in range(n_layers)]
    # observables: (run, layer, checkpoint, statistic), statistic fastest
    run, layer, checkpoint, statistic = (a.reshape(-1) for a in np.indices(
        (len(run_ids), n_layers, checkpoints, len(names))))
    obs = pd.DataFrame({
        "run_id": pd.Categorical.from_codes(run, run_ids), "layer": pd.Categorical.from_codes(layer, layer_names),
        "layer_index": layer, "layer_position": np.asarray(positions)[layer], "checkpoint": checkpoint,
        "epoch": checkpoint.astype(float), "measure": "act",
        "function": np.array([n.split(".")[1] for n in names])[statistic],
        "statistic": np.array([n.split(".")[2] for n in names])[statistic], "measurement": "all",
        "n_units": units, "n_units_total": units, "noise_std": 0.0, "measurement_seed": 0,
        "value": np.asarray(statistics, dtype=np.float64).reshape(-1)})
    # unit responses: (run, layer, checkpoint, stimulus, unit), unit fastest
    run, layer, checkpoint, stimulus, unit = (a.reshape(-1) for a in np.indices(
        (len(run_ids), n_layers, checkpoints, stimuli, units)))
    unit_table = pd.DataFrame({
        "run_id": pd.Categorical.from_codes(run, run_ids), "layer": pd.Categorical.from_codes(layer, layer_names),
        "checkpoint": checkpoint, "epoch": checkpoint.astype(float), "measure": "act", "stimulus": stimulus,
        "unit": unit, "n_units_total": units, "value": np.concatenate([r.reshape(-1) for r in responses])})
    n_runs = len(run_rows)
    runs = pd.DataFrame({
        "run_id": [r["run_id"] for r in run_rows], "source": "simulation",
        "learning_rule": [r["learning_rule"] for r in run_rows], "task": "toy", "architecture": "toy-population",
        "batch_size": pd.array([None] * n_runs, dtype="Int64"),
        "model_seed": pd.array([r["model_seed"] for r in run_rows], dtype="Int64"),
        "dataset_seed": pd.array([None] * n_runs, dtype="Int64"), "status": "complete", "status_detail": None,
        "hyperparameters": json.dumps({"toy": True, "seed": seed}),
    })
    for frame in (obs, unit_table):
        frame["measure"] = frame["measure"].astype("category")
    return Dataset(runs=runs, observables=obs, units=unit_table)


def toy_session_days(sessions: Sequence[float]) -> np.ndarray:
    """The session days as an array; ValueError unless they increase within 0..20 (the toy's 21 checkpoints)."""
    days = np.asarray(sessions, dtype=float)
    if (days.ndim != 1 or len(days) == 0 or not np.isfinite(days).all() or days.min() < 0 or days.max() > 20
            or (np.diff(days) <= 0).any()):
        raise ValueError("sessions must be increasing days within 0..20 (the toy training's 21 checkpoints)")
    return days


def can_write_nwb() -> bool:
    """Whether pynwb imports: NWB files need it (the optional extra lrdecode[nwb])."""
    try:
        import pynwb  # noqa: F401
    except ImportError:
        return False
    return True


def _remove(path: Path) -> None:
    """Delete a file, link or directory tree."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _move_into(staging: Path, directory: Path) -> None:
    """Move staging's entries into an existing directory, replacing same-named ones; all undone if one fails."""
    replaced = staging / f".replaced-{uuid.uuid4().hex[:8]}"
    replaced.mkdir()
    moved: list[tuple[Path, Path | None]] = []
    try:
        for entry in [e for e in staging.iterdir() if e != replaced]:
            target, old = directory / entry.name, None
            if target.exists() or target.is_symlink():
                old = replaced / entry.name
                target.rename(old)
            moved.append((target, old))
            entry.rename(target)
    except BaseException:
        for target, old in reversed(moved):
            if target.exists() or target.is_symlink():  # the new entry: the old one is aside
                _remove(target)
            if old is not None:
                old.rename(target)
        raise


@contextlib.contextmanager
def _staged(directory: Path) -> Iterator[Path]:
    """A temporary sibling of `directory` to write into, moved into place when the block succeeds.

    On any failure the sibling is deleted and `directory` is left as it was (absent, empty or
    with its old entries), so nothing is ever half-written.
    """
    missing = [p for p in (directory.parent, *directory.parent.parents) if not p.exists()]
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = directory.parent / f".{directory.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial"
    staging.mkdir()
    try:
        yield staging
        if directory.exists():
            _move_into(staging, directory)
        else:
            staging.rename(directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for parent in missing:  # innermost first: only the folders made here, and only if still empty
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)  # what was left: the entries replaced in `directory`


def write_toy_example(directory: Path, *, rule: str = "fa", sessions: Sequence[float] = (0, 3, 9, 14, 20),
                      stimuli: int = 20, units: int = 50, recorded_units: int = 40, noise: float = 0.2,
                      runs_per_rule: int = 6, seed: int = 0) -> dict[str, list[Path]]:
    """Everything for the end-to-end example: toy simulations, and a recording of a new toy animal.

    The recording is one more toy network trained by `rule` (a seed no simulated run has),
    observed at the given days (mapped onto the 21 checkpoints: day d is checkpoint d), with
    `recorded_units` of its units and Gaussian noise of std `noise` on every response, written
    as recording.npz, recording.csv and recording-nwb/ (one file per session; only when pynwb
    is installed, else there is no "nwb" entry in the result). The simulated dataset
    (`simulated/`: 4 rules x runs_per_rule runs x 3 layers, 21 checkpoints, unit responses in
    units.parquet) is what `lrdecode fit --match` learns from.

    Everything is written into a temporary sibling of `directory` first and then moved in
    (replacing entries of the same names), so a failure leaves `directory` as it was.
    Raises ValueError for bad `sessions` before anything is written.
    """
    directory = Path(directory)
    days = toy_session_days(sessions)
    kinds = [("npz", "recording.npz"), ("csv", "recording.csv")]
    if can_write_nwb():
        kinds.append(("nwb", "recording-nwb"))
    with _staged(directory) as staging:
        simulated = toy_simulated_dataset(runs_per_rule=runs_per_rule, checkpoints=21, stimuli=stimuli,
                                          units=units, seed=seed)
        sim_path = simulated.write(staging / "simulated", producer=("lrdecode", __version__), overwrite=True,
                                   description="Toy simulated networks (lrdecode.recordings.examples)")
        rng = np.random.default_rng([seed, 7])
        full = toy_responses(rule, checkpoints=21, stimuli=stimuli, units=units, layer=2, seed=10**9 + seed)
        chosen = np.sort(rng.choice(units, size=recorded_units, replace=False))
        responses = full[np.round(days).astype(int)][:, :, chosen]
        responses = responses + rng.normal(scale=noise, size=responses.shape)
        written = {"simulated": [sim_path]}
        for kind, name in kinds:
            written[kind] = write_example(staging / name, kind, responses=responses, days=days)
    return {kind: [directory / Path(p).relative_to(staging) for p in paths] for kind, paths in written.items()}
