"""Decoders matched to one experiment: train on simulated data reduced to
what a recording measured, and predict the recording's rule with calibrated probabilities.

The limits of a recording (an ingested dataset) and how simulated data is reduced to them:

- **Sessions.** The recording has S sessions at times t_0 < ... < t_{S-1}. Their relative
  positions r_i = (t_i - t_0) / (t_{S-1} - t_0) are placed on the simulated training as
  epoch e_first + (a + r_i (b - a)) (e_last - e_first), where [a, b] is the span of
  training the recording covers (default [0, 1]: the first session is the first checkpoint,
  the last session the last checkpoint), and each session takes the checkpoint whose epoch
  is nearest. No value is interpolated: statistics are only ever taken at simulated
  checkpoints. Two sessions on one checkpoint (too few checkpoints for the spacing) is an
  error; the largest gap between a session's relative position and its checkpoint's is
  reported (`max_spacing_error`).
- **Units.** The recording's unit count n (every area must have the same n, or choose one
  area). When the simulated data has unit responses (units.parquet) with at least n units
  for every layer, the act statistics are recomputed after the fact from n units drawn per
  run and layer (shared_schema.MeasurementSetting: a seeded subset, fixed across
  checkpoints, plus the noise below). Otherwise each simulated layer uses the measurement
  setting whose measured unit count is nearest to n (in ratio), then whose noise is nearest.
- **Noise.** Given (``--noise``), or estimated from the recording when it shows a stimulus
  more than once in a session (repeated ids in ``stimulus_ids``): the pooled within-stimulus
  standard deviation of single responses across repeats, over sessions and units (the
  simulated instrument adds that much noise to each response). Without repeats and without
  ``--noise`` it is assumed 0, with a warning.
- **Statistics.** Only act statistics that the recording has, finite in every area and session.

A matched model stores these limits, the run-grouped protocol accuracy (mean and s.e.m.
over splits: what to expect under these limits) and a classifier calibrated by
``CalibratedClassifierCV`` on run-grouped folds. `predict_matched` refuses data whose
sessions, spacing, unit count or statistics differ from the limits the model was matched to.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV

import shared_schema as ss
from lrdecode.decoding.decoder import DecoderModel, fit_decoder
from lrdecode.decoding.features import build_features, choose_observables
from lrdecode.decoding.model_selection import limited_threads
from lrdecode.decoding.protocol import evaluate
from lrdecode.decoding.scale import (
    ABSOLUTE,
    REFERENCE,
    RELATIVE,
    SCALES,
    first_session_mean_square,
    noise_shares,
    relative_noise,
    relative_scale,
)
from lrdecode.decoding.splits import inner_cv
from lrdecode.errors import DecodeError
from lrdecode.io.data import LoadedData
from lrdecode.limits import UNIT_TOLERANCE, layers_left_out, setting_distances, units_per_layer
from lrdecode.novelty import NoveltyScorer
from lrdecode.progress import SILENT, Reporter
from shared_schema.statistics import act_statistics
from shared_schema.tables import UNITS

ACT_STATISTICS: tuple[str, ...] = tuple(ss.Observable("act", f, s).name for f in ("raw", "abs", "sq")
                                        for s in ("norm", "mean", "median", "q3", "var", "skew", "kurtosis"))
SPACING_TOLERANCE = 0.05  # largest difference in relative session position predict accepts
UNITS_TOLERANCE = 0.2  # largest relative difference in unit count predict accepts
CALIBRATION_METHODS = ("sigmoid", "isotonic")


class MatchWarning(UserWarning):
    """An assumption made while matching (noise assumed 0, no setting near the noise...)."""


@dataclass(frozen=True)
class RecordingLimits:
    """What a recording measured: sessions and their times, unit count, noise, statistics."""

    source: str
    runs: tuple[str, ...]
    areas: tuple[str, ...]
    session_times: tuple[float, ...]
    n_units: int
    statistics: tuple[str, ...]
    noise_std: float | None = None  # estimated from repeats, None when the recording has none
    noise_note: str = ""
    mean_square: float | None = None  # mean squared response at the first session, over the runs and areas

    @property
    def n_sessions(self) -> int:
        return len(self.session_times)

    @property
    def positions(self) -> np.ndarray:
        """Relative session positions in [0, 1]: (t_i - t_0) / (t_last - t_0)."""
        return relative_positions(self.session_times)


def relative_positions(times: Sequence[float]) -> np.ndarray:
    """(t_i - t_0) / (t_last - t_0): where each session falls between the first and the last."""
    t = np.asarray(times, dtype=np.float64)
    return (t - t[0]) / (t[-1] - t[0])


def _example_limits(trajectories: ss.Trajectories) -> pd.DataFrame:
    """Per example: its sessions (finite epochs), their times, its act unit count, finite statistics."""
    rows = []
    act = [i for i, name in enumerate(trajectories.observables) if name.startswith("act.")]
    mean_squares = (first_session_mean_square(trajectories) if REFERENCE in trajectories.observables
                    else np.full(len(trajectories.examples), np.nan))
    for e, example in trajectories.examples.iterrows():
        epochs = trajectories.epochs[e]
        present = np.isfinite(epochs)
        values = trajectories.values[e][present][:, act]
        finite = np.isfinite(values).all(axis=0)
        n_units = example.get("n_units_act")
        rows.append({"run_id": str(example["run_id"]), "area": str(example["layer"]),
                     "measurement": str(example["measurement"]), "times": tuple(epochs[present].tolist()),
                     "n_units": None if n_units is None or pd.isna(n_units) else int(n_units),
                     "mean_square": float(mean_squares[e]),
                     "statistics": tuple(trajectories.observables[i] for i, ok in zip(act, finite, strict=True)
                                         if ok)})
    return pd.DataFrame(rows, columns=["run_id", "area", "measurement", "times", "n_units", "mean_square",
                                       "statistics"])


def recording_limits(dataset: ss.Dataset, *, area: str | None = None, areas: Sequence[str] | None = None,
                     source: str = "recording") -> RecordingLimits:
    """The limits shared by every run and area of an ingested recording (or of the given areas)."""
    limits = _example_limits(dataset.trajectories())
    chosen = [area] if area is not None else list(areas or [])
    if chosen:
        unknown = [a for a in chosen if a not in set(limits["area"])]
        if unknown:
            raise DecodeError(f"{source} has no area {unknown[0]!r}",
                              f"choose one of: {', '.join(sorted(set(limits['area'])))}")
        limits = limits[limits["area"].isin(chosen)]
    first = limits.iloc[0]
    fix = ("leave out --match-area to fit one model per group of areas that share their limits, or match one "
           "area (--match-area NAME); ingest recordings with other sessions into separate datasets")
    for _, row in limits.iterrows():
        where = f"{source}: run {row['run_id']} area {row['area']}"
        if len(row["times"]) != len(first["times"]):
            raise DecodeError(f"{where} has {len(row['times'])} sessions, run {first['run_id']} area "
                              f"{first['area']} has {len(first['times'])}", fix)
        if np.abs(relative_positions(row["times"]) - relative_positions(first["times"])).max() > SPACING_TOLERANCE:
            raise DecodeError(f"{where} has sessions at other relative times than run {first['run_id']} "
                              f"area {first['area']}", fix)
        if row["n_units"] != first["n_units"]:
            raise DecodeError(f"{where} has {row['n_units']} units, run {first['run_id']} area {first['area']} "
                              f"has {first['n_units']}", fix)
    if first["n_units"] is None:
        raise DecodeError(f"{source}: the number of recorded units (n_units) is unknown",
                          "ingest the recording with `lrdecode ingest`, which records it")
    statistics = set.intersection(*(set(s) for s in limits["statistics"]))
    if not statistics:
        raise DecodeError(f"{source} has no act statistic that is finite in every area and session",
                          "check the recording (constant responses give infinite skew and kurtosis)")
    runs = tuple(sorted(set(limits["run_id"])))
    areas = tuple(dict.fromkeys(limits["area"]))
    sigma, note = estimate_noise(dataset, runs=runs, areas=areas)
    mean_square = float(limits["mean_square"].mean())
    return RecordingLimits(source=source, runs=runs, areas=areas, session_times=tuple(first["times"]),
                           n_units=int(first["n_units"]), noise_std=sigma, noise_note=note,
                           mean_square=mean_square if math.isfinite(mean_square) else None,
                           statistics=tuple(s for s in ACT_STATISTICS if s in statistics))


def area_groups(dataset: ss.Dataset, *, source: str = "recording") -> list[RecordingLimits]:
    """The recording's areas grouped by their limits (unit count, sessions): one matched model per group.

    Areas of one group share every limit, so one decoder serves them all; an animal whose areas
    were recorded with different unit counts gets one decoder per area.
    """
    limits = _example_limits(dataset.trajectories())
    if limits.empty:
        raise DecodeError(f"{source} holds no example to match", "ingest a recording with `lrdecode ingest`")
    keys: dict[tuple, list[str]] = {}
    for area, rows in limits.groupby("area", sort=False):
        area_keys = {(row["n_units"], len(row["times"]), tuple(np.round(relative_positions(row["times"]), 2)))
                     for _, row in rows.iterrows()}
        if len(area_keys) > 1:
            raise DecodeError(f"{source}: area {area} has other unit counts or sessions in runs "
                              f"{', '.join(sorted(set(rows['run_id'])))}",
                              "match one recording at a time: ingest each into its own dataset and give that one "
                              "to --match")
        keys.setdefault(area_keys.pop(), []).append(str(area))
    return [recording_limits(dataset, areas=group, source=source) for group in keys.values()]


def estimate_noise(dataset: ss.Dataset, *, runs: Sequence[str], areas: Sequence[str]) -> tuple[float | None, str]:
    """Trial-to-trial s.d. of single responses, pooled over repeated stimuli, sessions and units.

    Repeats are stimuli whose id (``stimulus_ids``, recorded by ingest) occurs more than once.
    Returns (None, why) when the recording has no unit responses or no repeats.
    """
    if dataset.units is None:
        return None, "no unit responses (units.parquet) to estimate it from"
    squares, dof, repeated = 0.0, 0, 0
    hyper = dataset.runs.set_index(dataset.runs["run_id"].astype(str))["hyperparameters"]
    for run in runs:
        try:
            ids = json.loads(hyper.get(run) or "{}").get("stimulus_ids")
        except json.JSONDecodeError:
            ids = None
        if not ids or len(set(ids)) == len(ids):
            continue
        codes = pd.factorize(pd.Series(ids))[0]
        for area in areas:
            rows = dataset.units[(dataset.units["run_id"].astype(str) == run)
                                 & (dataset.units["layer"].astype(str) == area)
                                 & (dataset.units["measure"].astype(str) == "act")]
            if rows.empty:
                continue
            grid = rows.pivot_table(index=["checkpoint", "stimulus"], columns="unit", values="value", observed=True)
            sessions = grid.index.get_level_values(0).nunique()
            responses = grid.to_numpy().reshape(sessions, -1, grid.shape[1])  # (sessions, stimuli, units)
            if responses.shape[1] != len(codes):
                continue
            for code in np.unique(codes):
                members = np.flatnonzero(codes == code)
                if len(members) < 2:
                    continue
                block = responses[:, members, :]
                squares += float(((block - block.mean(axis=1, keepdims=True)) ** 2).sum())
                dof += (len(members) - 1) * block.shape[0] * block.shape[2]
                repeated += 1
    if dof == 0:
        return None, "no stimulus was shown more than once in a session"
    return math.sqrt(squares / dof), (f"estimated from {repeated} repeated stimulus id(s): pooled within-stimulus "
                                      f"s.d. of single responses over sessions and units")


def map_sessions(positions: Sequence[float], epochs: np.ndarray, span: tuple[float, float] = (0.0, 1.0)
                 ) -> np.ndarray:
    """Checkpoint index of each session, per example: the checkpoint nearest in epoch to its place.

    positions: relative session positions in [0, 1]; epochs: (examples, checkpoints).
    Returns (examples, sessions) indices; refuses two sessions on one checkpoint.
    """
    start, end = span
    if not 0.0 <= start < end <= 1.0:
        raise DecodeError(f"span {start}:{end} is not within 0:1 with start < end",
                          "give the share of training the recording covers, e.g. 0:1 (all) or 0:0.5")
    epochs = np.atleast_2d(np.asarray(epochs, dtype=np.float64))
    first, last = np.nanmin(epochs, axis=1), np.nanmax(epochs, axis=1)
    where = start + np.asarray(positions, dtype=np.float64) * (end - start)
    targets = first[:, None] + where[None, :] * (last - first)[:, None]
    distance = np.abs(np.where(np.isnan(epochs), np.inf, epochs)[:, None, :] - targets[:, :, None])
    indices = distance.argmin(axis=2)
    collide = (np.diff(indices, axis=1) <= 0).any(axis=1)
    if collide.any():
        e = int(np.flatnonzero(collide)[0])
        i = int(np.flatnonzero(np.diff(indices[e]) <= 0)[0])
        raise DecodeError(
            f"sessions {i} and {i + 1} (relative times {positions[i]:.3f}, {positions[i + 1]:.3f}) fall on the same "
            f"simulated checkpoint ({int(np.isfinite(epochs[e]).sum())} checkpoints over the span {start:g}:{end:g})",
            "simulate with more checkpoints, or widen --match-span")
    return indices


@dataclass
class MatchedData:
    """Simulated trajectories reduced to a recording's limits, and an account of how."""

    trajectories: ss.Trajectories
    account: dict[str, Any] = field(default_factory=dict)


def _read_units(data: LoadedData, runs: set[str]) -> pd.DataFrame | None:
    """The act unit responses of the given runs in the simulated datasets, if every dataset has them:
    those loaded with the data (`LoadedData.units`), else read from its sources."""
    if data.units is not None:
        units = data.units
        keep = units["run_id"].astype(str).isin(runs) & (units["measure"].astype(str) == "act")
        return units[keep].reset_index(drop=True)
    frames = []
    for source in data.sources:
        path = Path(source) / UNITS.file
        if not path.is_file():
            return None
        frame = pd.read_parquet(path)
        frames.append(frame[frame["run_id"].astype(str).isin(runs) & (frame["measure"].astype(str) == "act")])
    return pd.concat(frames, ignore_index=True) if frames else None


def _from_units(units: pd.DataFrame, examples: pd.DataFrame, indices: np.ndarray, observables: Sequence[str],
                n_units: int, noise: float, draws: int, seed: int, noise_relative: float | None = None
                ) -> tuple[np.ndarray, pd.DataFrame]:
    """Act statistics recomputed from n_units drawn per run and layer, plus noise, at the mapped checkpoints.

    With ``noise_relative``, a layer's noise s.d. is that fraction of its RMS response (all recorded
    units) at the first mapped checkpoint, as the recording's noise is of its own.
    """
    needed = units[units["checkpoint"].isin(np.unique(indices))]
    ordered = needed.sort_values(["run_id", "layer", "checkpoint", "stimulus", "unit"])
    grids = {}
    for (run, layer, checkpoint), frame in ordered.groupby(["run_id", "layer", "checkpoint"], observed=True,
                                                            sort=False):
        grids[str(run), str(layer), int(checkpoint)] = frame["value"].to_numpy().reshape(
            frame["stimulus"].nunique(), -1)
    values, rows = [], []
    for e, example in examples.iterrows():
        run, layer = str(example["run_id"]), str(example["layer"])
        if noise_relative is not None:
            noise = noise_relative * float(np.sqrt(np.mean(np.square(grids[run, layer, int(indices[e][0])]))))
        for draw in range(draws):
            setting = ss.MeasurementSetting(units=n_units, noise_std=noise, seed=seed + draw)
            trajectory = np.empty((indices.shape[1], len(observables)))
            for s, checkpoint in enumerate(indices[e]):
                measured = setting.measure(grids[run, layer, int(checkpoint)], run_id=run, layer=layer, stream="act",
                                           checkpoint=int(checkpoint))
                statistics = act_statistics(measured)
                trajectory[s] = [statistics[o] for o in observables]
            values.append(trajectory)
            rows.append({**example.to_dict(), "measurement": setting.label, "noise_std": noise,
                         "measurement_seed": seed + draw, "n_units_act": n_units})
    return np.array(values), pd.DataFrame(rows)


def _left_out(keys: pd.DataFrame, keep: np.ndarray, units_of: dict[tuple[str, str], int],
              n_units: int) -> list[dict[str, Any]]:
    """`layers_left_out`, each with why: too few units, or none recorded."""
    return [{**row, "reason": f"fewer units than the recording's {n_units}" if row["units"] > 0
             else "no unit responses"} for row in layers_left_out(keys, keep, units_of)]


def _rules_left(examples: pd.DataFrame, keep: np.ndarray) -> int:
    return int(examples.loc[keep, "learning_rule"].astype(str).nunique()) if keep.any() else 0


def match_simulated(data: LoadedData, limits: RecordingLimits, *, noise: float, span: tuple[float, float] = (0.0, 1.0),
                    statistics: Sequence[str] | None = None, draws: int = 1, seed: int = 0,
                    scale: str = "relative") -> MatchedData:
    """Reduce labelled simulated trajectories to a recording's sessions, units, noise and statistics.

    Simulated layers with fewer units than the recording cannot be recorded like it and are left
    out (listed in the account). Where the layers left have unit responses, the recording's unit
    count is drawn from them exactly; otherwise each layer takes the measurement setting nearest
    to the recording's units and noise, with a `MatchWarning` when it is not close (the closeness
    `plan` uses: lrdecode.limits.setting_distances).

    ``scale="relative"`` (lrdecode.decoding.scale): statistics relative to each example's first-session RMS
    response, and the noise relative to the RMS too, on both sides; ``"absolute"``: as measured.
    """
    if scale not in SCALES:
        raise DecodeError(f"unknown scale {scale!r}", f"use one of {', '.join(SCALES)}")
    relative = scale == "relative"
    noise_relative = None
    if relative:
        if limits.mean_square is None:
            raise DecodeError(f"{limits.source} has no {REFERENCE} statistic to take its scale from",
                              "ingest the recording with `lrdecode ingest`, or fit with --scale absolute")
        noise_relative = relative_noise(noise, limits.mean_square)
    traj = data.trajectories
    labelled = traj.examples["learning_rule"].notna().to_numpy() if "learning_rule" in traj.examples else None
    if labelled is None or not labelled.any():
        raise DecodeError("the simulated data has no run with a learning rule to learn from",
                          "give simulated datasets (lrsim output) as DATA, and the recording as --match")
    traj = traj.select(examples=labelled)
    present = [o for o in limits.statistics if o in traj.observables]
    units = _read_units(data, set(traj.examples["run_id"].astype(str)))
    units_of = units_per_layer(units)
    keys = traj.examples[["run_id", "layer"]].astype(str).reset_index(drop=True)
    recorded = np.array([units_of.get(key, 0) >= limits.n_units
                         for key in zip(keys["run_id"], keys["layer"], strict=True)])
    rules = int(traj.examples["learning_rule"].astype(str).nunique())
    kept_rules = _rules_left(traj.examples.reset_index(drop=True), recorded)
    use_units = kept_rules == rules
    if units_of and kept_rules < rules:
        warnings.warn(f"unit responses of {limits.n_units} units or more cover {kept_rules} of the {rules} rules' "
                      f"runs; matching on the measurement settings instead (record units for every run: lrsim "
                      f"--record-units {limits.n_units})", MatchWarning, stacklevel=2)
    candidates = list(limits.statistics) if use_units else present
    if not candidates:
        raise DecodeError("the simulated data has none of the recording's act statistics "
                          f"({', '.join(limits.statistics)})", "simulate with act observables (or unit responses)")
    chosen = choose_observables("act", statistics, candidates)
    if relative and not use_units and REFERENCE not in traj.observables:
        raise DecodeError(f"the simulated data has no {REFERENCE} statistic to take its scale from",
                          "simulate with act observables (or unit responses), or fit with --scale absolute")
    computed = [*chosen, REFERENCE] if relative and REFERENCE not in chosen else list(chosen)
    account: dict[str, Any] = {"n_units": limits.n_units, "noise_std": noise, "statistics": chosen, "span": list(span),
                               "recording_positions": limits.positions.tolist(),
                               "scale": RELATIVE if relative else ABSOLUTE}
    if relative:
        account["noise_relative"] = noise_relative
    if use_units:
        account["left_out_layers"] = _left_out(keys, recorded, units_of, limits.n_units)
        kept = traj.select(examples=recorded)
        first = kept.examples.reset_index(drop=True).drop_duplicates(["run_id", "layer"]).index.to_numpy()
        base = kept.select(examples=first)
        indices = map_sessions(limits.positions, base.epochs, span)
        values, examples = _from_units(units, base.examples, indices, computed, limits.n_units, noise, draws, seed,
                                       noise_relative)
        indices = np.repeat(indices, draws, axis=0)
        epochs = np.take_along_axis(np.repeat(base.epochs, draws, axis=0), indices, axis=1)
        account |= {"units_from": "units.parquet (unit responses, subsampled after the fact)", "draws": draws,
                    "units_used": {"min": limits.n_units, "median": limits.n_units, "max": limits.n_units},
                    "noise_used": {"min": noise_relative if relative else noise,
                                   "max": noise_relative if relative else noise}}
    else:
        note = ("the simulated data has no unit responses (units.parquet)" if not units_of else
                f"too few simulated layers have unit responses of {limits.n_units} units or more")
        examples = traj.examples.reset_index(drop=True)
        total = _numbers(examples, "n_units_total_act")
        large = ~(total < limits.n_units)  # unknown totals stay in
        if _rules_left(examples, large) == rules and not large.all():
            totals = {(run, layer): int(t) for run, layer, t in zip(keys["run_id"], keys["layer"], total, strict=True)
                      if np.isfinite(t)}
            account["left_out_layers"] = _left_out(keys, large, totals, limits.n_units)
            traj, examples, keys = traj.select(examples=large), examples[large].reset_index(drop=True), keys[large]
        setting_noise = examples["noise_std"].to_numpy(dtype=float)
        if relative:
            setting_noise = _relative_setting_noise(traj, setting_noise, map_sessions(limits.positions, traj.epochs,
                                                                                      span)[:, 0])
        unit_distance, noise_distance = setting_distances(
            _numbers(examples, "n_units_act"), setting_noise, n_units=limits.n_units,
            noise_std=noise_relative if relative else noise)
        order = np.lexsort((noise_distance, unit_distance + noise_distance, keys["layer"].to_numpy(),
                            keys["run_id"].to_numpy()))
        keep = examples.iloc[order].drop_duplicates(["run_id", "layer"]).index.to_numpy()
        base = traj.select(examples=np.sort(keep), observables=computed)
        indices = map_sessions(limits.positions, base.epochs, span)
        values = np.take_along_axis(base.values, indices[:, :, None], axis=1)
        epochs = np.take_along_axis(base.epochs, indices, axis=1)
        examples = base.examples
        used = pd.Series(_numbers(examples, "n_units_act"))
        noise_used = setting_noise[np.sort(keep)]
        account |= {"units_from": f"nearest measurement setting per layer ({note})",
                    "units_used": {"min": _number(used.min()), "median": _number(used.median()),
                                   "max": _number(used.max())},
                    "noise_used": {"min": float(noise_used.min()), "max": float(noise_used.max())},
                    "settings_used": sorted(set(examples["measurement"].astype(str)))}
        _warn_setting_gaps(used.to_numpy(dtype=float), noise_used, limits.n_units,
                           noise_relative if relative else noise, " relative to the RMS response" if relative else "")
    positions = (epochs - epochs[:, :1]) / (epochs[:, -1:] - epochs[:, :1])
    account |= {"checkpoints": indices[0].tolist(), "checkpoint_epochs": epochs[0].tolist(),
                "checkpoints_same_for_every_run": bool((indices == indices[0]).all()),
                "max_spacing_error": float(np.abs(positions - limits.positions[None, :]).max())}
    if account["max_spacing_error"] > SPACING_TOLERANCE:
        gap = account["max_spacing_error"]
        warnings.warn(f"the simulated checkpoints place the recording's sessions up to {gap:.2f} of training"
                      f" away from their relative times (predict accepts {SPACING_TOLERANCE}); simulate "
                      f"with more checkpoints (lrsim --checkpoints)", MatchWarning, stacklevel=2)
    matched = ss.Trajectories(values=np.asarray(values, dtype=np.float64),
                              lengths=np.full((len(values), len(computed)), indices.shape[1]),
                              epochs=np.asarray(epochs, dtype=np.float64), examples=examples.reset_index(drop=True),
                              observables=tuple(computed))
    if relative:
        matched = relative_scale(matched).select(observables=chosen)
    return MatchedData(trajectories=matched, account=account)


def _relative_setting_noise(traj: ss.Trajectories, noise_std: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Each measurement setting's noise s.d. relative to its example's noise-free RMS response at the
    checkpoint of the first session (the measured mean square less the noise's share); inf when unknown."""
    return noise_shares(noise_std, traj.values[np.arange(len(first)), first, traj.observables.index(REFERENCE)])


def _warn_setting_gaps(units_used: np.ndarray, noise_used: np.ndarray, n_units: int, noise: float,
                       noise_unit: str = "") -> None:
    """A `MatchWarning` for each way the chosen measurement settings are not close to the recording."""
    if np.isnan(units_used).all():
        warnings.warn("the simulated data does not record how many units were measured (n_units); its "
                      "unit count cannot be matched to the recording's", MatchWarning, stacklevel=3)
        return
    unit_distance, _ = setting_distances(units_used, noise_used, n_units=n_units, noise_std=noise)
    far = np.isfinite(units_used) & (unit_distance > 1.0)
    if far.any():
        warnings.warn(f"the simulated data cannot record {n_units} units like the recording: {int(far.sum())} of "
                      f"{len(units_used)} layers use settings of {np.nanmin(units_used[far]):g}.."
                      f"{np.nanmax(units_used[far]):g} units (not within a factor {UNIT_TOLERANCE:g}); simulate with "
                      f"unit responses (lrsim --record-units {n_units}) or a setting near {n_units} units",
                      MatchWarning, stacklevel=3)
    if np.abs(noise_used - noise).max() > 0.1 * noise:
        warnings.warn(f"no simulated measurement setting has noise {noise:g}{noise_unit}: the nearest have "
                      f"{noise_used.min():g}..{noise_used.max():g}; simulate with unit responses "
                      f"(lrsim --record-units) to match noise exactly", MatchWarning, stacklevel=3)


def _numbers(examples: pd.DataFrame, column: str) -> np.ndarray:
    """A numeric column as floats, NaN where unknown or when the column is absent."""
    if column not in examples:
        return np.full(len(examples), np.nan)
    return pd.to_numeric(examples[column], errors="coerce").astype(float).to_numpy()


def _number(value: float) -> float | None:
    return None if pd.isna(value) else float(value)


def fit_matched(data: LoadedData, recording: str | Path, *, classifier: str = "rf", area: str | None = None,
                areas: Sequence[str] | None = None, limits: RecordingLimits | None = None,
                noise: float | None = None, span: tuple[float, float] = (0.0, 1.0),
                statistics: Sequence[str] | None = None, draws: int = 1, calibration: str = "sigmoid",
                n_splits: int = 10, exhaustive: bool = False, seed: int = 0, n_jobs: int = 1,
                scale: str = "relative", reporter: Reporter = SILENT) -> DecoderModel:
    """A decoder trained on simulated data reduced to a recording's limits, calibrated, with its expected accuracy.

    ``limits``: the recording's limits when already read (e.g. by `area_groups`), else read here.
    """
    if calibration not in CALIBRATION_METHODS:
        raise DecodeError(f"unknown calibration {calibration!r}", f"use one of {', '.join(CALIBRATION_METHODS)}")
    if noise is not None and not (math.isfinite(noise) and noise >= 0):
        raise DecodeError(f"noise {noise} is not a finite number >= 0", "give the noise s.d. in response units")
    path = Path(recording)
    if not path.exists():
        raise DecodeError(f"recording dataset {path} does not exist",
                          "ingest it first: lrdecode ingest FILES --out DIR")
    if limits is None:
        limits = recording_limits(ss.read_dataset(path), area=area, areas=areas, source=str(path))
    if noise is not None:
        sigma, noise_source = noise, "given with --noise"
        if limits.noise_std is not None:
            noise_source += f"; the recording's repeats suggest {limits.noise_std:.4g}"
    elif limits.noise_std is not None:
        sigma, noise_source = limits.noise_std, limits.noise_note
    else:
        sigma, noise_source = 0.0, f"assumed 0: {limits.noise_note}; pass --noise SIGMA"
        warnings.warn(f"measurement noise assumed 0: {limits.noise_note}; pass --noise SIGMA (the s.d. of a single "
                      f"response across repeats of one stimulus) to train under the recording's noise",
                      MatchWarning, stacklevel=2)
    matched = match_simulated(data, limits, noise=sigma, span=span, statistics=statistics, draws=draws, seed=seed,
                              scale=scale)
    matched_data = LoadedData(trajectories=matched.trajectories, sources=data.sources)
    features = build_features(matched.trajectories, measure="act")
    model = fit_decoder(matched_data, classifier=classifier, measure="act", exhaustive=exhaustive, seed=seed,
                        n_jobs=n_jobs, reporter=reporter)
    protocol = evaluate(features, classifier=classifier, split="grouped", n_splits=n_splits, seed=seed,
                        exhaustive=exhaustive, n_jobs=n_jobs, reporter=reporter)
    labelled = features.labelled()
    y = labelled.labels.astype(str)
    folds = list(inner_cv(y, labelled.groups, seed=seed).split(labelled.X, y, labelled.groups))
    with limited_threads(n_jobs):
        calibrated = CalibratedClassifierCV(clone(model.pipeline), method=calibration, cv=folds).fit(labelled.X, y)
    summary = protocol.summary()
    model.pipeline = calibrated
    model.novelty = NoveltyScorer(random_state=seed).fit(labelled.X, groups=labelled.groups)
    model.training |= {
        "match": {"recording": str(path), "runs": list(limits.runs), "areas": list(limits.areas),
                  "session_times": list(limits.session_times), "noise_source": noise_source, **matched.account},
        "expected_accuracy": {"mean": summary["accuracy_mean"], "sem": summary["accuracy_sem"],
                              "balanced_accuracy_mean": summary["balanced_accuracy_mean"],
                              "chance": summary["chance"], "split": "grouped", "n_splits": len(protocol.outcomes),
                              "note": "run-grouped protocol accuracy of this classifier on the matched simulated "
                                      "data (before calibration), mean and s.e.m. over splits"},
        "calibration": {"method": calibration, "folds": len(folds),
                        "cv": "run-grouped stratified folds (StratifiedGroupKFold); probabilities are the mean over "
                              "the folds' calibrated classifiers"},
        "novelty": model.novelty.summary(),
    }
    return model


def fit_matched_areas(data: LoadedData, recording: str | Path, *, area: str | None = None,
                      reporter: Reporter = SILENT, **options: Any) -> list[DecoderModel]:
    """One matched decoder per group of the recording's areas that share their limits (`area_groups`).

    With ``area``, that area only. Options are those of `fit_matched`.
    """
    path = Path(recording)
    if area is not None or not path.exists():
        return [fit_matched(data, path, area=area, reporter=reporter, **options)]
    groups = area_groups(ss.read_dataset(path), source=str(path))
    return [fit_matched(data, path, limits=group, reporter=reporter, **options) for group in groups]


def is_matched(model: DecoderModel) -> bool:
    return "match" in model.training


def check_matches(model: DecoderModel, data: LoadedData) -> None:
    """Refuse data whose sessions, spacing, units or statistics differ from what the model was matched to."""
    match = model.training["match"]
    expected = np.asarray(match["recording_positions"])
    fix = (f"fit a model matched to this recording: lrdecode fit SIMULATED --match {' '.join(data.sources)} "
           f"--out model.skops")
    limits = _example_limits(data.trajectories)
    for _, row in limits.iterrows():
        where = f"run {row['run_id']} area {row['area']}"
        if len(row["times"]) != len(expected):
            raise DecodeError(f"{where} has {len(row['times'])} sessions; the model was matched to {len(expected)} "
                              f"(from {match['recording']})", fix)
        gap = np.abs(relative_positions(row["times"]) - expected).max() if len(expected) > 1 else 0.0
        if gap > SPACING_TOLERANCE:
            shown = ", ".join(f"{p:.2f}" for p in relative_positions(row["times"]))
            raise DecodeError(f"{where} has sessions at relative times {shown}; the model was matched to "
                              f"{', '.join(f'{p:.2f}' for p in expected)} (differences above {SPACING_TOLERANCE})",
                              fix)
        missing = [o for o in model.layout.observables if o not in row["statistics"]]
        if missing:
            raise DecodeError(f"{where} lacks (or has non-finite) statistic(s) the model needs: {', '.join(missing)}",
                              fix)
        n, target = row["n_units"], match["n_units"]
        if n is None or abs(n - target) > UNITS_TOLERANCE * target:
            raise DecodeError(f"{where} has {n if n is not None else 'an unknown number of'} units; the model was "
                              f"matched to {target} (accepted: within {UNITS_TOLERANCE:.0%})", fix)


def _assign_parts(models: Sequence[DecoderModel], data: LoadedData) -> list[tuple[DecoderModel, np.ndarray]]:
    """Which decoder predicts which example: the one matched to an area of that name, else the only one,
    else the one matched to the example's unit count."""
    examples = data.trajectories.examples
    area = examples["layer"].astype(str).to_numpy()
    n_units = _numbers(examples, "n_units_act")
    owner = np.full(len(examples), -1)
    for i, model in enumerate(models):
        owner[np.isin(area, model.training["match"]["areas"]) & (owner < 0)] = i
    if len(models) == 1:
        owner[:] = 0
    for e in np.flatnonzero(owner < 0):
        near = [i for i, m in enumerate(models)
                if abs(n_units[e] - m.training["match"]["n_units"]) <= UNITS_TOLERANCE * m.training["match"]["n_units"]]
        if len(near) != 1:
            matched = "; ".join(f"{', '.join(m.training['match']['areas'])} ({m.training['match']['n_units']} units)"
                                for m in models)
            raise DecodeError(f"area {area[e]} of run {examples['run_id'].iloc[e]} is none of the areas the model "
                              f"file was matched to ({matched})",
                              "name the areas as in the matched recording, or fit a model matched to this one")
        owner[e] = near[0]
    return [(model, owner == i) for i, model in enumerate(models) if (owner == i).any()]


def predict_matched(models: DecoderModel | Sequence[DecoderModel], data: LoadedData, *,
                    animals: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (run, area) and per animal: the predicted rule, calibrated probabilities, the expected
    accuracy, and whether the area looks like any simulated network (novelty score).

    ``animals`` maps run ids to animals (default: each run is one animal). An animal's verdict
    combines its areas (`animal_verdicts`).
    """
    models = [models] if isinstance(models, DecoderModel) else list(models)
    classes = models[0].classes
    if any(m.classes != classes for m in models):
        raise DecodeError("the model file's decoders were trained on different rules",
                          "refit them together with one `lrdecode fit --match`")
    tables = []
    for model, rows in _assign_parts(models, data):
        part = LoadedData(trajectories=data.trajectories.select(examples=rows), sources=data.sources)
        check_matches(model, part)
        if model.training["match"].get("scale") == RELATIVE:
            part = LoadedData(trajectories=relative_scale(part.trajectories), sources=part.sources)
        features = model.features(part)
        examples = model.predict_examples(features).rename(columns={"layer": "area"})
        limits = _example_limits(part.trajectories).set_index(["run_id", "area", "measurement"])
        keys = list(zip(examples["run_id"], examples["area"], examples["measurement"], strict=True))
        examples.insert(3, "n_units", [limits.loc[k, "n_units"] for k in keys])
        examples.insert(4, "sessions", [len(limits.loc[k, "times"]) for k in keys])
        if model.novelty is not None:
            examples["novelty_score"] = model.novelty.novelty_score(features.X)
            examples["novelty_threshold"] = model.novelty.threshold_
            examples["in_distribution"] = examples["novelty_score"] <= model.novelty.threshold_
        else:
            examples["novelty_score"], examples["novelty_threshold"], examples["in_distribution"] = np.nan, np.nan, True
        expected = model.training["expected_accuracy"]
        examples["calibration"] = model.training["calibration"]["method"]
        examples["expected_accuracy"] = expected["mean"]
        examples["expected_accuracy_sem"] = expected["sem"]
        prior = model.training["data"].get("examples_per_rule", {})
        for rule in classes:
            examples[f"prior_{rule}"] = prior.get(rule, 1.0)
        tables.append(examples)
    areas = pd.concat(tables, ignore_index=True).sort_values(["run_id", "area"], kind="stable")
    areas.insert(0, "animal", [(animals or {}).get(r, r) for r in areas["run_id"]])
    verdicts = animal_verdicts(areas, classes)
    areas = areas.drop(columns=["measurement", *[f"prior_{rule}" for rule in classes]]).reset_index(drop=True)
    return areas, verdicts


PROBABILITY_FLOOR = 1e-6  # calibrated probabilities of 0 (isotonic) would veto a rule outright


def animal_verdicts(areas: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """One posterior per animal from its areas: the product of their calibrated likelihoods.

    Each area's calibrated probabilities p_a(rule) are turned into likelihoods p_a / prior
    (the decoder's training share of each rule) and multiplied, times the prior once:
    posterior ∝ prior x Π_a p_a / prior. This assumes the areas' statistics are independent
    given the rule; areas of one network share its training, so the combined probability is
    over-confident where they are not. Areas flagged as unlike every simulated network are
    left out of the product unless all of an animal's areas are.
    """
    rows = []
    for animal, group in areas.groupby("animal", sort=True):
        used = group[group["in_distribution"].astype(bool)]
        flagged = used.empty
        used = group if flagged else used
        p = np.clip(used[[f"p_{c}" for c in classes]].to_numpy(dtype=float), PROBABILITY_FLOOR, 1.0)
        prior = used[[f"prior_{c}" for c in classes]].to_numpy(dtype=float)
        prior = prior / prior.sum(axis=1, keepdims=True)
        shared = prior.mean(axis=0)  # one prior for the animal, whatever order its areas come in
        log_posterior = np.log(shared) + (np.log(p) - np.log(prior)).sum(axis=0)
        posterior = np.exp(log_posterior - log_posterior.max())
        posterior /= posterior.sum()
        truth = group["learning_rule"].dropna()
        rows.append({"animal": animal, "runs": ",".join(sorted(set(group["run_id"].astype(str)))),
                     "learning_rule": truth.iloc[0] if len(truth) else None, "areas": len(group),
                     "areas_used": len(used), "predicted": classes[int(posterior.argmax())],
                     "probability": float(posterior.max()), "in_distribution": not flagged,
                     **{f"p_{c}": float(v) for c, v in zip(classes, posterior, strict=True)}})
    return pd.DataFrame(rows)
