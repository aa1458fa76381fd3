"""Reduce simulated trajectories to the limits of an experiment (paper §5, §6; README: Measurement limits).

One module for every analysis of measurement limits (``subsample``, ``consecutive``,
``units_noise``, ``plan``), so that they reduce data the same way:

- **time**: keep ``n_samples`` checkpoints ``period`` apart from a random start
  (`subsample`), or a fixed window such as a consecutive third (`window`, `thirds`);
- **rules**: keep the runs of some rules only (`restrict_rules`);
- **instrument**: keep one measurement setting the data carries (`settings_table`,
  `select_setting`, `nearest_setting`), or measure again after the fact from unit-level
  responses (units.parquet) with shared_schema's measurement model and reference statistics
  (`measure_units`);
- **protocol**: `evaluate_redrawn` runs the usual protocol on features drawn afresh for
  every split (a new random start per split), so the s.e.m. includes that variability.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import shared_schema as ss
from lrdecode.decoding.features import FeatureSet
from lrdecode.decoding.protocol import ProtocolRun, labelled, run_protocol
from lrdecode.decoding.splits import make_splits, split_groups
from lrdecode.errors import DecodeError
from lrdecode.io.data import LoadedData
from lrdecode.progress import SILENT, NotesOnly, Reporter

START_CHOICES: tuple[str, ...] = ("run", "example")
PORTIONS: tuple[str, ...] = ("early", "middle", "late")


# ---------------------------------------------------------------- time


def span(n_samples: int, period: int) -> int:
    """Checkpoints covered by n_samples samples taken period checkpoints apart (first to last, inclusive)."""
    return (n_samples - 1) * period + 1


def check_sampling(n_checkpoints: int, n_samples: int, period: int) -> None:
    """Refuse a sampling that does not fit the trajectory, saying what would fit."""
    if n_samples < 1:
        raise DecodeError(f"number of samples {n_samples} is below 1", "take at least one sample per trajectory")
    if period < 1:
        raise DecodeError(f"subsample period {period} is below 1", "space samples at least 1 checkpoint apart")
    if span(n_samples, period) > n_checkpoints:
        most = (n_checkpoints - 1) // period + 1
        raise DecodeError(
            f"{n_samples} samples {period} checkpoint(s) apart span {span(n_samples, period)} checkpoints, but the "
            f"trajectories have {n_checkpoints}",
            f"take at most {most} samples at this spacing, or space them at most "
            f"{(n_checkpoints - 1) // max(n_samples - 1, 1)} checkpoint(s) apart")


def sample_starts(trajectories: ss.Trajectories, n_samples: int, period: int, rng: np.random.Generator,
                  per: str = "run") -> np.ndarray:
    """A random first checkpoint for every example, uniform over the starts that fit.

    per="run": one start per run, shared by its layers and measurement settings (an animal's
    areas are recorded in the same sessions); per="example": one per example (each trajectory
    on its own, as the paper's Appendix B.3.1 describes).
    """
    if per not in START_CHOICES:
        raise DecodeError(f"unknown start choice {per!r}", f"use one of {', '.join(START_CHOICES)}")
    n_checkpoints = trajectories.values.shape[1]
    check_sampling(n_checkpoints, n_samples, period)
    n_starts = n_checkpoints - span(n_samples, period) + 1
    if per == "example":
        return rng.integers(0, n_starts, size=len(trajectories.examples))
    runs, run_of_example = np.unique(trajectories.examples["run_id"].astype(str).to_numpy(), return_inverse=True)
    return rng.integers(0, n_starts, size=len(runs))[run_of_example]


def take_checkpoints(trajectories: ss.Trajectories, checkpoints: np.ndarray) -> ss.Trajectories:
    """Keep, for every example, its own checkpoints (examples x samples indices), in that order."""
    checkpoints = np.asarray(checkpoints, dtype=int)
    rows = np.arange(len(trajectories.examples))[:, None]
    values = trajectories.values[rows, checkpoints, :]
    lengths = np.where(trajectories.lengths > 0, checkpoints.shape[1], 0)
    return ss.Trajectories(values=values, lengths=lengths, epochs=trajectories.epochs[rows, checkpoints],
                           examples=trajectories.examples, observables=trajectories.observables)


def subsample(trajectories: ss.Trajectories, *, n_samples: int, period: int, seed: int | Sequence[int] = 0,
              per: str = "run") -> ss.Trajectories:
    """n_samples checkpoints period apart from a seeded random start (see `sample_starts`).

    seed: an integer or a list of them (e.g. [seed, split]), as numpy's SeedSequence takes.
    """
    rng = np.random.default_rng(seed)
    starts = sample_starts(trajectories, n_samples, period, rng, per)
    return take_checkpoints(trajectories, starts[:, None] + period * np.arange(n_samples)[None, :])


def thirds(n_checkpoints: int) -> dict[str, np.ndarray]:
    """Early, middle and late windows of equal length floor(K/3): the first, the centred and the last.

    Equal lengths let a classifier trained on one third be tested on another (21 -> 0-6, 7-13, 14-20).
    """
    length = n_checkpoints // 3
    if length < 1:
        raise DecodeError(f"the trajectories have {n_checkpoints} checkpoint(s), too few to cut into thirds",
                          "decode data with at least 3 checkpoints per trajectory")
    starts = {"early": 0, "middle": (n_checkpoints - length) // 2, "late": n_checkpoints - length}
    return {name: np.arange(start, start + length) for name, start in starts.items()}


def window(trajectories: ss.Trajectories, checkpoints: np.ndarray) -> ss.Trajectories:
    """The same checkpoints for every example."""
    checkpoints = np.asarray(checkpoints, dtype=int)
    return take_checkpoints(trajectories, np.broadcast_to(checkpoints, (len(trajectories.examples), len(checkpoints))))


def with_trajectories(data: LoadedData, trajectories: ss.Trajectories) -> LoadedData:
    return replace(data, trajectories=trajectories)


# ---------------------------------------------------------------- rules


def restrict_rules(data: LoadedData, rules: Sequence[str] | None) -> LoadedData:
    """Keep the labelled runs of these rules (all rules when None); names must be in the data."""
    if not rules:
        return data
    rules = list(dict.fromkeys(r.strip() for r in rules if r.strip()))
    rule_of = data.trajectories.examples["learning_rule"]
    present = sorted({str(r) for r in rule_of.dropna().unique()})
    unknown = [r for r in rules if r not in present]
    if unknown:
        raise DecodeError(f"rule(s) {', '.join(unknown)} are not in the data (--rules)",
                          f"choose among the rules present: {', '.join(present)}")
    if len(rules) < 2:
        raise DecodeError(f"--rules names one rule ({rules[0]})", "name two rules or more, e.g. --rules fa,ia")
    keep = rule_of.astype(object).isin(rules).to_numpy()
    return with_trajectories(data, data.trajectories.select(examples=keep))


# ---------------------------------------------------------------- measurement settings in the data


def _units_text(setting: ss.MeasurementSetting) -> str:
    if setting.units is None:
        return "all"
    return f"{setting.units:g}" if isinstance(setting.units, float) else str(setting.units)


def settings_table(trajectories: ss.Trajectories, measure: str = "act") -> pd.DataFrame:
    """One row per measurement setting of the data: label, units (as written), noise, units measured.

    ``units_measured`` is the median number of measured units of ``measure`` (act for "all")
    over the setting's examples; rows are ordered by units measured, then noise.
    """
    examples = trajectories.examples
    column = f"n_units_{'act' if measure == 'all' else measure}"
    rows = []
    for label, group in examples.groupby(examples["measurement"].astype(str), sort=False):
        try:
            setting = ss.MeasurementSetting.parse(label)
        except ValueError as error:
            raise DecodeError(f"cannot read measurement setting {label!r} of the data: {error}",
                              "write measurement labels as shared_schema does, e.g. 'units=0.1,noise=0.5'") from None
        counts = group[column].dropna().to_numpy(dtype=float) if column in group else np.array([])
        rows.append({"measurement": label, "units": _units_text(setting), "noise_std": setting.noise_std,
                     "units_measured": float(np.median(counts)) if len(counts) else np.nan,
                     "examples": len(group)})
    table = pd.DataFrame(rows)
    return table.sort_values(["units_measured", "noise_std"], kind="stable").reset_index(drop=True)


def select_setting(data: LoadedData, label: str) -> LoadedData:
    keep = data.trajectories.examples["measurement"].astype(str).to_numpy() == label
    return with_trajectories(data, data.trajectories.select(examples=keep))


UNIT_TOLERANCE = 2.0  # a setting is close when its measured units are within this factor of the wanted count
NOISE_TOLERANCE = 0.5  # ... and its noise within this fraction of the larger of the two noise levels


def setting_distances(units_measured: np.ndarray, noise_stds: np.ndarray, *, n_units: float, noise_std: float,
                      unit_tolerance: float = UNIT_TOLERANCE, noise_tolerance: float = NOISE_TOLERANCE
                      ) -> tuple[np.ndarray, np.ndarray]:
    """How far measurement settings are from (n_units, noise_std), in tolerances: <= 1 is close.

    Units: |log(measured / n_units)| / log(unit_tolerance). Noise: |difference| /
    (noise_tolerance x the larger of the two), so noise 0 is only close to noise 0. `plan`
    refuses a request no setting is close to, and `fit --match` warns when it uses one.
    """
    measured = np.asarray(units_measured, dtype=float)
    noise = np.asarray(noise_stds, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        unit_distance = np.abs(np.log(measured / n_units)) / math.log(unit_tolerance)
    unit_distance = np.where(np.isfinite(unit_distance), unit_distance, np.inf)
    scale = noise_tolerance * np.maximum(noise, noise_std)
    noise_gap = np.abs(noise - noise_std)
    noise_distance = np.divide(noise_gap, scale, out=np.where(noise_gap > 0, np.inf, 0.0), where=scale > 0)
    return unit_distance, noise_distance


def nearest_setting(table: pd.DataFrame, *, n_units: float, noise_std: float,
                    unit_tolerance: float = UNIT_TOLERANCE, noise_tolerance: float = NOISE_TOLERANCE) -> pd.Series:
    """The setting nearest to (n_units, noise_std), or a clear refusal when none is close.

    Close and nearest as `setting_distances` measures them (the sum of both distances).
    """
    if n_units < 1:
        raise DecodeError(f"--units {n_units} is below 1", "plan for at least one recorded unit")
    if unit_tolerance <= 1.0 or noise_tolerance < 0:
        raise DecodeError(f"unit tolerance {unit_tolerance} must be above 1 and noise tolerance {noise_tolerance} "
                          "at least 0", "e.g. --unit-tolerance 2 (a factor) --noise-tolerance 0.5 (a fraction)")
    if not (math.isfinite(noise_std) and noise_std >= 0):
        raise DecodeError(f"--noise {noise_std} is not a finite number >= 0", "give the noise std, e.g. 0.5")
    known = table.dropna(subset=["units_measured"])
    unit_distance, noise_distance = setting_distances(
        known["units_measured"].to_numpy(), known["noise_std"].to_numpy(), n_units=n_units, noise_std=noise_std,
        unit_tolerance=unit_tolerance, noise_tolerance=noise_tolerance)
    close = (unit_distance <= 1.0) & (noise_distance <= 1.0)
    if not close.any():
        available = "; ".join(f"{r.measurement} ({r.units_measured:g} units, noise {r.noise_std:g})"
                              for r in known.itertuples())
        raise DecodeError(
            f"no measurement setting of the data is close to {n_units:g} units with noise {noise_std:g} (within a "
            f"factor {unit_tolerance:g} in units and {noise_tolerance:.0%} in noise)",
            f"plan for a setting the data has ({available}), simulate one (lrsim run --measure "
            f"'units={int(n_units)},noise={noise_std:g}'), or loosen --unit-tolerance / --noise-tolerance")
    distance = np.where(close, unit_distance + noise_distance, np.inf)
    return known.iloc[int(np.argmin(distance))]


# ---------------------------------------------------------------- measurement after the fact


def load_units(data: LoadedData) -> pd.DataFrame:
    """The unit-level responses (units.parquet) of the loaded runs, or a clear error when there are none."""
    from shared_schema.tables import UNITS
    from shared_schema.validate import check_units, read_parquet

    frames = [] if data.units is None else [data.units]  # validated when the data was loaded
    for source in data.sources if data.units is None else ():
        frame, problems = read_parquet(Path(source), UNITS)
        problems = problems or (check_units(frame, None) if frame is not None else [])
        if problems:
            raise ss.FormatError(problems)
        if frame is not None:
            frames.append(frame)
    runs = set(data.trajectories.examples["run_id"].astype(str))
    units = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(units):
        units = units[units["run_id"].astype(str).isin(runs)].reset_index(drop=True)
    if units.empty:
        raise DecodeError(f"no unit-level responses (units.parquet) for the selected runs of {', '.join(data.sources)}",
                          "use a dataset written with unit responses (lrsim run --record-units N, `lrdecode "
                          "ingest`), or decode the measurement settings the data carries (--from settings)")
    return units


def units_per_layer(units: pd.DataFrame | None, measure: str = "act") -> dict[tuple[str, str], int]:
    """Units recorded per (run, layer) in unit responses (units.parquet rows of one measure)."""
    if units is None or units.empty:
        return {}
    rows = units[units["measure"].astype(str) == measure]
    counts = rows.groupby(["run_id", "layer"], observed=True)["unit"].nunique()
    return {(str(run), str(layer)): int(n) for (run, layer), n in counts.items()}


def layers_left_out(examples: pd.DataFrame, keep: np.ndarray, units_of: dict[tuple[str, str], int]
                    ) -> list[dict[str, Any]]:
    """Per layer name with examples not kept: how many runs, and the most units one of them has."""
    rows = examples[~np.asarray(keep)]
    keys = zip(rows["run_id"].astype(str), rows["layer"].astype(str), strict=True)
    table = pd.DataFrame({"layer": rows["layer"].astype(str).to_numpy(), "run_id": rows["run_id"].to_numpy(),
                          "units": [units_of.get(key, 0) for key in keys]})
    return [{"layer": layer, "runs": int(group["run_id"].nunique()), "units": int(group["units"].max())}
            for layer, group in table.groupby("layer", sort=False)]


def describe_limits(*, units: float, noise: str, units_used: tuple[float | None, float | None], noise_used: str,
                    how: str, left_out: Sequence[dict[str, Any]] = ()) -> list[str]:
    """The lines `plan` and `fit --match` both print: the units and noise asked for, what the
    simulated data gives (and how), and the layers too small to record that many units."""
    low, high = ("an unknown number" if u is None or pd.isna(u) else f"{u:g}" for u in units_used)
    given = low if low == high else f"{low}..{high}"
    lines = [f"limits: {units:g} units -> {given} measured ({how}); noise s.d. {noise} -> {noise_used}"]
    if left_out:
        lines.append(f"left out layers with fewer than {units:g} recorded units: "
                     + ", ".join(f"{row['layer']} ({row['units']} units, {row['runs']} runs)" for row in left_out))
    return lines


def parse_units(items: Sequence[str]) -> list[int | float | None]:
    """``["10", "0.5", "all"]`` -> counts, fractions and None (every unit), as MeasurementSetting reads them."""
    parsed: list[int | float | None] = []
    for item in items:
        try:
            parsed.append(ss.MeasurementSetting.parse(f"units={item.strip()}").units)
        except ValueError:
            raise DecodeError(f"cannot read unit count {item!r} (--units)",
                              "give counts (200), fractions (0.1) or 'all', separated by commas") from None
    return list(dict.fromkeys(parsed))


def measure_units(data: LoadedData, units: pd.DataFrame, settings: Sequence[ss.MeasurementSetting],
                  reporter: Reporter = SILENT) -> LoadedData:
    """Statistics of every (run, layer, setting) computed again from unit responses.

    Uses shared_schema's measurement model (seeded unit subset fixed across checkpoints, fresh
    Gaussian noise per checkpoint) and reference statistics, through `ss.layer_statistics`.
    The population is the recorded units: a fraction is of those, and a count above them is
    refused. act rows give the 21 act statistics, weight rows (if any) the 21 weight ones.
    """
    examples = data.trajectories.examples
    template = {(str(run), str(layer)): i for i, (run, layer) in
                enumerate(zip(examples["run_id"], examples["layer"], strict=True))}  # last row of each layer
    groups = list(units.groupby(["run_id", "layer"], observed=True, sort=True))
    measures = sorted(set(units["measure"].astype(str)))
    observables = [o for m in measures for o in ss.observable_names(m)]
    n_checkpoints = int(units["checkpoint"].max()) + 1
    values, epochs, rows = [], [], []
    reporter.start("measuring again from unit responses", len(groups) * len(settings))
    for (run_id, layer), frame in groups:
        run_id, layer = str(run_id), str(layer)
        if (run_id, layer) not in template:
            continue
        arrays = _unit_arrays(frame, n_checkpoints)
        for setting in settings:
            _check_population(setting, arrays, run_id, layer)
            trajectory = np.full((n_checkpoints, len(observables)), np.nan)
            for checkpoint in range(n_checkpoints):
                statistics = ss.layer_statistics(
                    setting, run_id=run_id, layer=layer, checkpoint=checkpoint,
                    kernel=arrays["weight"][checkpoint] if "weight" in arrays else None,
                    responses=arrays["act"][checkpoint] if "act" in arrays else None)
                trajectory[checkpoint] = [statistics[o] for o in observables]
            values.append(trajectory)
            epochs.append(arrays["epochs"])
            row = examples.iloc[template[run_id, layer]].copy()
            row["measurement"] = setting.label
            row["noise_std"] = setting.noise_std
            row["measurement_seed"] = setting.seed
            for measure in ("weight", "act"):
                if measure in arrays:
                    row[f"n_units_{measure}"] = setting.n_measured(arrays[measure].shape[-1])
            row["n_units_grad"] = pd.NA
            rows.append(row)
            reporter.advance()
    reporter.finish()
    if not rows:
        raise DecodeError("the unit responses belong to no selected run and layer",
                          "select the runs whose units were recorded (--where run_id=...)")
    examples = pd.DataFrame(rows).reset_index(drop=True)
    for measure in ("weight", "act", "grad"):
        column = f"n_units_{measure}"
        if column in examples:
            examples[column] = examples[column].astype("Int64")
    stacked = np.stack(values)
    trajectories = ss.Trajectories(values=stacked, lengths=np.full(stacked.shape[::2], n_checkpoints),
                                   epochs=np.stack(epochs), examples=examples, observables=tuple(observables))
    return with_trajectories(data, trajectories)


def _unit_arrays(frame: pd.DataFrame, n_checkpoints: int) -> dict[str, np.ndarray]:
    """(checkpoints, stimuli, units) act responses and (checkpoints, units) weights of one layer."""
    arrays: dict[str, np.ndarray] = {}
    checkpoints = frame.groupby("checkpoint")["epoch"].first().reindex(range(n_checkpoints))
    if checkpoints.isna().any():
        first = int(np.flatnonzero(checkpoints.isna())[0])
        raise DecodeError(f"units.parquet: run {frame['run_id'].iloc[0]} layer {frame['layer'].iloc[0]} has no "
                          f"responses at checkpoint {first}",
                          "record the same checkpoints for every layer, or select layers that have them all")
    arrays["epochs"] = checkpoints.to_numpy(dtype=float)
    for measure, part in frame.groupby(frame["measure"].astype(str)):
        units = np.unique(part["unit"].to_numpy())
        unit_column = np.searchsorted(units, part["unit"].to_numpy())
        checkpoint = part["checkpoint"].to_numpy()
        if measure == "act":
            stimuli = np.unique(part["stimulus"].to_numpy(dtype=np.int64))
            stimulus_row = np.searchsorted(stimuli, part["stimulus"].to_numpy(dtype=np.int64))
            array = np.full((n_checkpoints, len(stimuli), len(units)), np.nan)
            array[checkpoint, stimulus_row, unit_column] = part["value"].to_numpy(dtype=float)
        else:
            array = np.full((n_checkpoints, len(units)), np.nan)
            array[checkpoint, unit_column] = part["value"].to_numpy(dtype=float)
        arrays[measure] = array
    return arrays


def _check_population(setting: ss.MeasurementSetting, arrays: dict[str, np.ndarray], run_id: str, layer: str) -> None:
    for measure in ("weight", "act"):
        if measure in arrays and isinstance(setting.units, int) and setting.units > arrays[measure].shape[-1]:
            raise DecodeError(
                f"units={setting.units} exceeds the {arrays[measure].shape[-1]} {measure} units recorded for run "
                f"{run_id} layer {layer} (--units)",
                f"ask for at most {arrays[measure].shape[-1]} units, or a fraction of the recorded units (e.g. 0.5)")


# ---------------------------------------------------------------- protocol on redrawn features


def evaluate_redrawn(
    features_of_split: Callable[[int], FeatureSet],
    *,
    classifier: str = "rf",
    split: str = "grouped",
    n_splits: int = 10,
    test_fraction: float = 0.25,
    seed: int = 0,
    exhaustive: bool = False,
    n_jobs: int = 1,
    keys: dict[str, Any] | None = None,
    reporter: Reporter = SILENT,
) -> ProtocolRun:
    """The protocol with features drawn afresh for each split (``features_of_split(i)``).

    The train/test splits are made once from the labelled examples of split 0's features; every
    draw must keep the same labelled examples in the same order (reducing checkpoints does).
    """
    first = features_of_split(0)
    data = labelled(first)
    groups = split_groups(split, data.examples, data.groups)
    splits = make_splits(split, data.labels.astype(str), groups, n_splits=n_splits,
                         test_fraction=test_fraction, seed=seed)
    keys = dict(keys or {"classifier": classifier, "split": split})
    run = ProtocolRun(keys=keys, classes=data.classes)
    reporter.start(" ".join(str(v) for v in keys.values()) + " (splits)", len(splits))
    for i, one in enumerate(splits):
        features = first if i == 0 else features_of_split(i)
        if len(features.labelled()) != len(data):
            raise RuntimeError("a redrawn feature set changed the labelled examples; the splits no longer apply")
        part = run_protocol(features, [one], classifier=classifier, inner_groups=groups, exhaustive=exhaustive,
                            seed=seed + i, n_jobs=n_jobs, keys=keys, reporter=NotesOnly(reporter))
        run.outcomes += part.outcomes
        reporter.advance()
    reporter.finish()
    return run
