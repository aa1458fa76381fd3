"""Plan an experiment (README: Measurement limits): the accuracy to expect when S sessions are recorded K
checkpoints apart, from about N units with noise of std SIGMA, estimated on simulated data
reduced to those limits; and the tradeoff surface around the plan.

- Instrument: the data's measurement setting nearest to (N, SIGMA) (`limits.nearest_setting`);
  the plan says which one was used and refuses when none is close.
- Sessions: S samples K checkpoints apart from a random start per run, drawn afresh per split
  (`limits.subsample`); refused when S sessions at spacing K do not fit the trajectories.
- Accuracy: run-grouped splits only, since a new animal is a new run: the decoder never saw
  any layer of the runs it is tested on.
- Surface: accuracy over sessions (1 to the most that fit at spacing K) x units (the settings
  with the chosen noise) or x noise (the settings with the chosen units).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

import shared_schema as ss
from lrdecode.analyses.common import concat, describe
from lrdecode.decoding.features import build_features, without_dropped_examples
from lrdecode.decoding.protocol import Protocol
from lrdecode.errors import DecodeError
from lrdecode.io.data import LoadedData
from lrdecode.io.results import Result
from lrdecode.limits import (
    check_sampling,
    evaluate_redrawn,
    layers_left_out,
    load_units,
    measure_units,
    nearest_setting,
    select_setting,
    settings_table,
    span,
    subsample,
    units_per_layer,
)
from lrdecode.progress import SILENT, Reporter

SURFACES: tuple[str, ...] = ("units", "noise", "none")


def session_counts(n_checkpoints: int, spacing: int, most: int = 8) -> list[int]:
    """Up to ``most`` session counts from 1 to the largest that fits at this spacing."""
    largest = (n_checkpoints - 1) // spacing + 1
    return sorted({round(x) for x in np.linspace(1, largest, min(most, largest))})


def plan_experiment(
    data: LoadedData,
    *,
    n_units: float,
    sessions: int,
    spacing: int,
    noise_std: float = 0.0,
    measure: str = "act",
    statistics: Sequence[str] | None = None,
    classifier: str = "rf",
    n_splits: int = 10,
    test_fraction: float = 0.25,
    start_per: str = "run",
    unit_tolerance: float = 2.0,
    noise_tolerance: float = 0.5,
    surface: str = "units",
    source: str = "settings",
    seed: int = 0,
    exhaustive: bool = False,
    n_jobs: int = 1,
    reporter: Reporter = SILENT,
) -> Result:
    """Expected accuracy of the planned experiment (table ``summary``) and the tradeoff ``surface``.

    source="settings": the data's measurement setting nearest to (n_units, noise_std).
    source="units": the plan's own setting, measured again from the unit responses
    (units.parquet), with the surface's neighbours (`measured_for_plan`).
    """
    if surface not in SURFACES:
        raise DecodeError(f"unknown surface {surface!r} (--surface)", f"use one of {', '.join(SURFACES)}")
    left_out: list[dict[str, object]] = []
    if source == "units":
        data, left_out = measured_for_plan(data, n_units=n_units, noise_std=noise_std, surface=surface,
                                           reporter=reporter)
    elif source != "settings":
        raise DecodeError(f"unknown source {source!r} (--from)", "use settings or units")
    n_checkpoints = data.trajectories.values.shape[1]
    try:
        check_sampling(n_checkpoints, sessions, spacing)
    except DecodeError as error:
        raise DecodeError(f"the simulated trajectories are too short for this plan: {error.problem}",
                          f"{error.fix}; or simulate longer training (more checkpoints)") from None
    grid = settings_table(data.trajectories, measure)
    chosen = nearest_setting(grid, n_units=n_units, noise_std=noise_std, unit_tolerance=unit_tolerance,
                             noise_tolerance=noise_tolerance)

    protocol = Protocol((classifier,), ("grouped",), n_splits, test_fraction, seed, exhaustive, n_jobs)

    def accuracy_at(setting: str, n_sessions: int, after: dict[str, object] | None = None):
        reduced = select_setting(data, setting)
        whole = build_features(reduced.trajectories, measure=measure, statistics=statistics)
        kept = without_dropped_examples(reduced.trajectories, whole)

        def features_of_split(i: int):
            trajectories = subsample(kept, n_samples=n_sessions, period=spacing,
                                     seed=[seed, n_sessions, spacing, i], per=start_per)
            return build_features(trajectories, measure=measure, statistics=list(whole.layout.observables))

        [run] = protocol.each(features_of_split, {"measure": measure}, after=after, evaluator=evaluate_redrawn,
                              reporter=reporter)
        return run

    planned = accuracy_at(chosen["measurement"], sessions)
    row = planned.summary()
    keys = {k: row.pop(k) for k in ("measure", "classifier", "split")}
    summary = pd.DataFrame([{**keys, "requested_units": n_units, "requested_noise_std": noise_std,
                             "sessions": sessions, "spacing": spacing, "span": span(sessions, spacing),
                             "measurement": chosen["measurement"], "units_measured": chosen["units_measured"],
                             "noise_std": chosen["noise_std"], **row}])

    cells = []
    if surface != "none":
        same = "noise_std" if surface == "units" else "units_measured"
        axis = grid[grid[same] == chosen[same]]
        for setting in axis.itertuples():
            for n_sessions in session_counts(n_checkpoints, spacing):
                run = accuracy_at(setting.measurement, n_sessions,
                                  {"sessions": n_sessions, "measurement": setting.measurement,
                                   "units_measured": setting.units_measured, "noise_std": setting.noise_std})
                cells.append(run.summary_table())
    whole = select_setting(data, chosen["measurement"])
    return Result(
        analysis="plan",
        settings={"requested_units": n_units, "requested_noise_std": noise_std, "sessions": sessions,
                  "spacing": spacing, "n_checkpoints": n_checkpoints, "measurement_used": chosen["measurement"],
                  "units_measured": chosen["units_measured"], "noise_std_used": chosen["noise_std"],
                  "unit_tolerance": unit_tolerance, "noise_tolerance": noise_tolerance, "measure": measure,
                  "statistics": list(statistics or []), "classifier": classifier, "split": "grouped",
                  "n_splits": n_splits, "test_fraction": test_fraction, "start_per": start_per, "surface": surface,
                  "source": source, "left_out_layers": left_out, "seed": seed, "exhaustive": exhaustive},
        data=describe(whole, {measure: build_features(whole.trajectories, measure=measure, statistics=statistics)}),
        tables={"summary": summary, "surface": concat(cells), "settings": grid,
                "splits": planned.split_table()},
    )


def measured_for_plan(data: LoadedData, *, n_units: float, noise_std: float, surface: str,
                      reporter: Reporter = SILENT) -> tuple[LoadedData, list[dict[str, object]]]:
    """The data measured again from its unit responses at the plan's units and noise, and its neighbours.

    Layers with fewer recorded units than the plan cannot be recorded like it and are left out
    (returned, per layer name). Neighbours: a quarter, half, twice and four times the units
    (surface "units", up to the fewest recorded), or no noise, half and twice the noise
    (surface "noise").
    """
    count = round(n_units)
    if count < 1:
        raise DecodeError(f"--units {n_units} is below 1", "plan for at least one recorded unit")
    units = load_units(data)
    recorded = units_per_layer(units)
    examples = data.trajectories.examples
    keys = list(zip(examples["run_id"].astype(str), examples["layer"].astype(str), strict=True))
    enough = np.array([recorded.get(key, 0) >= count for key in keys])
    if not enough.any():
        most = max(recorded.values(), default=0)
        raise DecodeError(f"no layer has {count} recorded units (the most: {most})",
                          "plan for fewer units, or simulate with more (lrsim --record-units)")
    left_out = layers_left_out(examples, enough, recorded)
    kept = LoadedData(trajectories=data.trajectories.select(examples=enough), sources=data.sources,
                      excluded=data.excluded, units=data.units)
    fewest = int(min(recorded.get(key, 0) for key, ok in zip(keys, enough, strict=True) if ok))
    counts, noises = [count], [noise_std]
    if surface == "units":
        counts += [c for c in (count // 4, count // 2, count * 2, count * 4) if 1 <= c <= fewest]
    elif surface == "noise":
        noises += [0.0, noise_std / 2, noise_std * 2] if noise_std > 0 else [0.5, 1.0]
    settings = [ss.MeasurementSetting(units=c, noise_std=float(n)) for c in sorted(set(counts))
                for n in sorted(set(noises))]
    return measure_units(kept, units, settings, reporter=reporter), left_out
