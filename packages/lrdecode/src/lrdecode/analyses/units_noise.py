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
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

import shared_schema as ss
from lrdecode.analyses.common import check_split_kinds, concat, describe, features_for
from lrdecode.data import LoadedData
from lrdecode.errors import DecodeError
from lrdecode.limits import load_units, measure_units, restrict_rules, select_setting, settings_table
from lrdecode.progress import SILENT, Reporter
from lrdecode.protocol import evaluate
from lrdecode.results import Result

SOURCES: tuple[str, ...] = ("settings", "units")
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
    reporter: Reporter = SILENT,
) -> Result:
    """Accuracy (mean +- s.e.m.) for every measure x measurement setting x split kind.

    Table ``summary``: one row per cell with the setting's label, units as written, units
    measured (median over examples) and noise std; ``settings``: the grid itself.
    """
    splits = check_split_kinds(splits)
    data = restrict_rules(data, rules)
    data = measurement_grid(data, source=source, units=units, noise=noise, measurement_seed=measurement_seed,
                            reporter=reporter)
    measures = list(dict.fromkeys(measures or measures_present(data.trajectories)))
    grid_rows = []
    feature_sets, runs = {}, []
    for measure in measures:
        grid = settings_table(data.trajectories, measure)
        grid_rows.append(grid.assign(measure=measure))
        for setting in grid.itertuples():
            features = features_for(select_setting(data, setting.measurement), measure, statistics)
            feature_sets[f"{measure} @ {setting.measurement}"] = features
            for kind in splits:
                runs.append(evaluate(features, classifier=classifier, split=kind, n_splits=n_splits,
                                     test_fraction=test_fraction, seed=seed, exhaustive=exhaustive, n_jobs=n_jobs,
                                     keys={"measure": measure, "classifier": classifier, "split": kind,
                                           "measurement": setting.measurement, "units": setting.units,
                                           "units_measured": setting.units_measured,
                                           "noise_std": setting.noise_std},
                                     reporter=reporter))
    grid = pd.concat(grid_rows, ignore_index=True)
    return Result(
        analysis="units_noise",
        settings={"source": source, "units": list(units) if source == "units" else None,
                  "noise": list(noise) if source == "units" else None, "measurement_seed": measurement_seed,
                  "rules": list(rules or []), "measures": measures, "statistics": list(statistics or []),
                  "classifier": classifier, "splits": splits, "n_splits": n_splits, "test_fraction": test_fraction,
                  "seed": seed, "exhaustive": exhaustive},
        data=describe(data, feature_sets),
        tables={"summary": concat([r.summary_table() for r in runs]),
                "splits": concat([r.split_table() for r in runs]),
                "settings": grid[["measure", *[c for c in grid.columns if c != "measure"]]]},
    )
