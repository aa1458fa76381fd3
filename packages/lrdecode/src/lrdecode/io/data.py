"""Reading datasets for decoding: one or more shared_schema directories, selected by any run
factor and measurement setting, with incomplete runs set aside (and reported)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import shared_schema as ss
from lrdecode.errors import DecodeError

NULL_WORDS = frozenset({"none", "null", "na", "nan", ""})


@dataclass
class LoadedData:
    """The examples to decode (labelled and not), the runs left out with the reason, and the
    validated unit-level responses (units.parquet) of the loaded runs when every dataset read has
    them (else None: `lrdecode.limits.load_units` then reads what the sources have)."""

    trajectories: ss.Trajectories
    sources: tuple[str, ...]
    excluded: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["run_id", "reason"]))
    units: pd.DataFrame | None = None

    @property
    def n_runs(self) -> int:
        return int(self.trajectories.examples["run_id"].nunique())


def parse_where(items: Sequence[str]) -> dict[str, list[str]]:
    """``["task=digits", "batch_size=128,256"]`` -> ``{"task": ["digits"], "batch_size": ["128", "256"]}``."""
    where: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip():
            raise DecodeError(f"cannot read the selection {item!r}",
                              "write COLUMN=VALUE or COLUMN=V1,V2 (e.g. task=digits, batch_size=128,256)")
        where.setdefault(name.strip(), []).extend(v.strip() for v in values.split(","))
    return where


def _matches(column: pd.Series, wanted: Sequence[object]) -> np.ndarray:
    """Rows whose value equals one of ``wanted``, comparing as text (so "128" finds 128)."""
    wanted_text = {str(w) for w in wanted if not (isinstance(w, str) and w.strip().lower() in NULL_WORDS)
                   and w is not None}
    want_null = len(wanted_text) < len(wanted)
    missing = column.isna().to_numpy()
    text = np.array(["" if m else str(v) for v, m in zip(column, missing, strict=True)], dtype=object)
    hit = np.isin(text, list(wanted_text)) & ~missing
    return hit | missing if want_null else hit


def select_runs(runs: pd.DataFrame, where: Mapping[str, object | Sequence[object]]) -> pd.DataFrame:
    """Keep runs whose columns match every selection; errors name the column and the values present."""
    keep = np.ones(len(runs), dtype=bool)
    for name, wanted in where.items():
        if name not in runs:
            raise DecodeError(f"runs.parquet has no column {name!r} to select on",
                              f"use one of: {', '.join(map(str, runs.columns))}")
        values = list(wanted) if isinstance(wanted, list | tuple | set) else [wanted]
        hit = _matches(runs[name], values)
        if not hit.any():
            present = sorted({"null" if pd.isna(v) else str(v) for v in runs[name].unique()})
            raise DecodeError(f"no run has {name} in {', '.join(map(str, values))}",
                              f"choose among the values present: {', '.join(present)}")
        keep &= hit
    if not keep.any():
        raise DecodeError("no run matches all the selections together",
                          "loosen the selection (check each one alone with `shared-schema info DATA`)")
    return runs[keep].reset_index(drop=True)


def _learned(runs: pd.DataFrame, min_metric: float) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """The runs that reached `min_metric` (and every recording), and a reason for each simulated run left out."""
    simulated = runs["source"].astype(str) == "simulation"
    if "final_metric" not in runs or runs.loc[simulated, "final_metric"].isna().all():
        raise DecodeError("--min-metric needs the final_metric column of runs.parquet, which this data lacks "
                          "(or leaves empty for every simulated run)",
                          "leave --min-metric out, or decode data that records each run's final task metric")
    metric = pd.to_numeric(runs["final_metric"], errors="coerce")
    low = simulated & ~(metric >= min_metric)
    if simulated.any() and low.sum() == simulated.sum():
        raise DecodeError(f"no simulated run reached the final metric {min_metric:g} (best: "
                          f"{metric[simulated].max():.3g})",
                          "lower --min-metric, or train the networks longer")
    reasons = [{"run_id": r, "reason": "missing final metric" if pd.isna(m) else
                f"final metric {m:.3f} < {min_metric:g}"}
               for r, m in zip(runs.loc[low, "run_id"].astype(str), metric[low], strict=True)]
    return runs[~low], reasons


def load(
    paths: Sequence[str | Path] | str | Path,
    *,
    where: Mapping[str, object | Sequence[object]] | None = None,
    measurements: Sequence[str] | None = None,
    include_incomplete: bool = False,
    min_metric: float | None = None,
) -> LoadedData:
    """Read one or more datasets as one, keep the selected runs and measurement settings.

    Runs whose status is not ``complete`` (diverged, failed) are set aside unless asked for:
    their trajectories stop early, and the paper decoded finished runs only. With
    `min_metric`, simulated runs whose ``final_metric`` is below it or missing are set aside
    too (networks that did not learn); recordings are kept.
    """
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    if not paths:
        raise DecodeError("no dataset given", "pass at least one dataset directory")
    for path in paths:
        if not Path(path).exists():
            raise DecodeError(f"dataset {path} does not exist", "check the path (a directory written by shared_schema)")
    parts = [ss.read_dataset(p) for p in paths]
    dataset = ss.concat_datasets(parts)
    runs = dataset.runs
    excluded = []
    if not include_incomplete:
        bad = runs["status"].astype(str) != "complete"
        excluded += [{"run_id": r, "reason": f"status {s}"} for r, s in
                     zip(runs.loc[bad, "run_id"].astype(str), runs.loc[bad, "status"].astype(str), strict=True)]
        runs = runs[~bad]
        if runs.empty:
            raise DecodeError("no run in the data has status 'complete'",
                              "decode finished runs, or pass include_incomplete (--include-incomplete)")
    if min_metric is not None:
        runs, unlearned = _learned(runs, float(min_metric))
        excluded += unlearned
    if where:
        runs = select_runs(runs.reset_index(drop=True), where)
    dataset = dataset.restrict_to_runs(runs.reset_index(drop=True))
    if dataset.observables.empty:
        raise DecodeError("the selected runs have no observables", "select runs that were measured")
    try:
        trajectories = dataset.trajectories()
    except ValueError as error:
        raise DecodeError(f"cannot line up the trajectories: {error}",
                          "select runs with the same number of checkpoints (--where ...)") from None
    if measurements:
        present = trajectories.examples["measurement"].astype(str)
        unknown = sorted(set(measurements) - set(present))
        if unknown:
            raise DecodeError(f"measurement setting(s) {', '.join(unknown)} are not in the data",
                              f"choose among: {', '.join(sorted(set(present)))}")
        trajectories = trajectories.select(examples=present.isin(measurements).to_numpy())
    units = dataset.units if all(p.units is not None for p in parts) else None
    if units is not None:
        loaded_runs = set(trajectories.examples["run_id"].astype(str))
        units = units[units["run_id"].astype(str).isin(loaded_runs)].reset_index(drop=True)
    return LoadedData(trajectories=trajectories, sources=tuple(str(p) for p in paths),
                      excluded=pd.DataFrame(excluded, columns=["run_id", "reason"]), units=units)
