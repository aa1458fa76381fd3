"""Unit subsampling x measurement noise (paper Fig. 5, S8): accuracy per measure over a grid of
(units measured, noise std).

Two sources of the grid:
- ``settings``: the measurement settings the data carries (lrsim measures several settings in
  one pass and labels each, e.g. ``units=0.1,noise=0.5``; ``all`` is the ideal instrument);
  weight, act and grad can all be decoded.
- ``units``: measured again after the fact from unit-level responses (units.parquet) with
  shared_schema's measurement model and reference statistics (`lrdecode.limits.measure_units`),
  for any grid of unit counts (or fractions) x noise stds; act (and weight, where kernels were
  stored) only, since the activity change needs the Jacobian.

The paper decoded FA vs IA (``rules=("fa", "ia")``); any subset of two rules or more works.

Hyperparameters (``select_at``): ``"reference"`` (default) chooses them once per measure and
split, by the classifier's usual inner CV at the reference setting (the ideal instrument
``all`` where present, else the most units with the least noise), and every other setting
fits the classifier with them on the same split's training examples: one selection per
split instead of one per cell, and still nothing chosen on a test example. ``"each"``
chooses them anew in every cell (the original procedure; as many searches as cells).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

import shared_schema as ss
from lrdecode.analyses.common import check_split_kinds, concat, describe, features_for
from lrdecode.decoding.features import FeatureSet
from lrdecode.decoding.protocol import Protocol
from lrdecode.errors import DecodeError
from lrdecode.io.data import LoadedData
from lrdecode.io.results import Result
from lrdecode.limits import (
    load_units,
    measure_units,
    restrict_rules,
    select_setting,
    settings_table,
    with_trajectories,
)
from lrdecode.progress import SILENT, Reporter

SOURCES: tuple[str, ...] = ("settings", "units")
SELECT_AT: tuple[str, ...] = ("reference", "each")
DEFAULT_UNITS: tuple[str, ...] = ("0.1", "0.25", "0.5", "all")
DEFAULT_NOISE: tuple[float, ...] = (0.0, 0.1, 0.5, 1.0, 2.0)


def measures_present(trajectories: ss.Trajectories) -> list[str]:
    """weight, act, grad as far as recorded, then all when there are several."""
    present = {ss.Observable.parse(o).measure for o in trajectories.observables}
    measures = [m for m in ("weight", "act", "grad") if m in present]
    return measures + (["all"] if len(measures) > 1 else [])


def measurement_grid(
    data: LoadedData,
    *,
    source: str = "settings",
    units: Sequence[str] = DEFAULT_UNITS,
    noise: Sequence[float] = DEFAULT_NOISE,
    measurement_seed: int = 0,
    reporter: Reporter = SILENT,
) -> LoadedData:
    """The data with one example per (run, layer, setting) of the grid (see the module docstring)."""
    if source not in SOURCES:
        raise DecodeError(f"unknown source {source!r} (--from)", f"use one of {', '.join(SOURCES)}")
    if source == "settings":
        return data
    from lrdecode.limits import parse_units

    if any(n < 0 for n in noise):
        raise DecodeError("a noise std is below 0 (--noise)", "give noise stds >= 0, e.g. --noise 0,0.5,1")
    settings = [ss.MeasurementSetting(units=u, noise_std=float(n), seed=measurement_seed)
                for u in parse_units(units) for n in dict.fromkeys(noise)]
    return measure_units(data, load_units(data), settings, reporter=reporter)


def units_noise(
    data: LoadedData,
    *,
    source: str = "settings",
    units: Sequence[str] = DEFAULT_UNITS,
    noise: Sequence[float] = DEFAULT_NOISE,
    measurement_seed: int = 0,
    rules: Sequence[str] | None = None,
    measures: Sequence[str] | None = None,
    statistics: Sequence[str] | None = None,
    classifier: str = "rf",
    splits: Sequence[str] = ("paper", "grouped"),
    n_splits: int = 10,
    test_fraction: float = 0.25,
    seed: int = 0,
    exhaustive: bool = False,
    n_jobs: int = 1,
    select_at: str = "reference",
    reporter: Reporter = SILENT,
) -> Result:
    """Accuracy (mean +- s.e.m.) for every measure x measurement setting x split kind.

    Table ``summary``: one row per cell with the setting's label, units as written, units
    measured (median over examples) and noise std; ``settings``: the grid itself.
    """
    splits = check_split_kinds(splits)
    if select_at not in SELECT_AT:
        raise DecodeError(f"unknown --select-at {select_at!r}", f"use one of {', '.join(SELECT_AT)}")
    data = restrict_rules(data, rules)
    data = measurement_grid(data, source=source, units=units, noise=noise, measurement_seed=measurement_seed,
                            reporter=reporter)
    measures = list(dict.fromkeys(measures or measures_present(data.trajectories)))
    protocol = Protocol((classifier,), splits, n_splits, test_fraction, seed, exhaustive, n_jobs)
    grid_rows = []
    feature_sets, runs = {}, []
    left_out: dict[str, int] = {}
    for measure in measures:
        grid = settings_table(data.trajectories, measure)
        reference = reference_setting(grid)
        measured = data
        if select_at == "reference":
            measured, left_out[measure] = _common_examples(data, grid, measure, statistics)
        grid_rows.append(grid.assign(measure=measure, reference=grid["measurement"] == reference))
        by_label = grid.set_index("measurement")
        chosen: dict[str, list[dict]] = {}
        for label in [reference, *(m for m in by_label.index if m != reference)]:
            setting = by_label.loc[label]
            features = features_for(select_setting(measured, label), measure, statistics)
            feature_sets[f"{measure} @ {label}"] = features
            if label == reference:
                reference_examples = _example_keys(features)
            elif select_at == "reference" and not _example_keys(features).equals(reference_examples):
                raise DecodeError(f"setting {label!r} holds other examples than the reference setting {reference!r}",
                                  "decode with --select-at each, or measure every setting on the same runs and "
                                  "layers")
            cell = protocol.each(features, {"measure": measure},
                                 after={"measurement": label, "units": setting.units,
                                        "units_measured": setting.units_measured, "noise_std": setting.noise_std},
                                 params=lambda _, kind, chosen=chosen: (chosen.get(kind) if select_at == "reference"
                                                                        else None),
                                 reporter=reporter)
            if label == reference:
                chosen.update({run.keys["split"]: [o.selection.params for o in run.outcomes] for run in cell})
            runs += cell
    grid = pd.concat(grid_rows, ignore_index=True)
    return Result(
        analysis="units_noise",
        settings={"source": source, "units": list(units) if source == "units" else None,
                  "noise": list(noise) if source == "units" else None, "measurement_seed": measurement_seed,
                  "rules": list(rules or []), "measures": measures, "statistics": list(statistics or []),
                  "classifier": classifier, "splits": splits, "n_splits": n_splits, "test_fraction": test_fraction,
                  "seed": seed, "exhaustive": exhaustive, "select_at": select_at,
                  "examples_non_finite_in_some_setting": left_out},
        data=describe(data, feature_sets),
        tables={"summary": concat([r.summary_table() for r in runs]),
                "splits": concat([r.split_table() for r in runs]),
                "settings": grid[["measure", *[c for c in grid.columns if c != "measure"]]]},
    )


def reference_setting(grid: pd.DataFrame) -> str:
    """The ideal instrument ``all`` where the grid has it, else the most units measured with the least noise."""
    labels = grid["measurement"].astype(str)
    if (labels == "all").any():
        return "all"
    best = grid.assign(units_order=grid["units_measured"].fillna(-1.0)).sort_values(
        ["units_order", "noise_std"], ascending=[False, True], kind="stable")
    return str(best["measurement"].iloc[0])


def _common_examples(data: LoadedData, grid: pd.DataFrame, measure: str,
                     statistics: Sequence[str] | None) -> tuple[LoadedData, int]:
    """The data less the (run, layer) examples any setting drops for non-finite values.

    Hyperparameters chosen at the reference setting are refit at the others on the same
    split's examples, so every setting must hold the same examples.
    """
    dropped: set[tuple[str, str]] = set()
    for label in grid["measurement"]:
        rows = features_for(select_setting(data, label), measure, statistics).dropped_examples
        dropped |= set(zip(rows["run_id"].astype(str), rows["layer"].astype(str), strict=True))
    if not dropped:
        return data, 0
    examples = data.trajectories.examples
    keys = zip(examples["run_id"].astype(str), examples["layer"].astype(str), strict=True)
    keep = np.array([key not in dropped for key in keys])
    return with_trajectories(data, data.trajectories.select(examples=keep)), len(dropped)


def _example_keys(features: FeatureSet) -> pd.DataFrame:
    labelled = features.labelled().examples
    return labelled[["run_id", "layer"]].astype(str).reset_index(drop=True)
