"""The decoder's view of a dataset: examples x checkpoints x observables, and back.

An example is one layer of one run under one measurement setting (the original study's
"one layer of one trained network"). Its metadata row carries the layer, the setting,
the number of measured units per measure and every column of runs.parquet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from shared_schema.names import LAYER_POSITIONS, MEASURES, OBSERVABLES, Observable
from shared_schema.tables import OBSERVABLES as OBSERVABLES_TABLE
from shared_schema.validate import as_float, category_codes, combine, compact, observable_codes


class DatasetTables(Protocol):
    """What `pivot` reads of a dataset: its run table and long observables table.

    `shared_schema.dataset.Dataset` is one; this module does not import it, so that
    `dataset` can import `pivot` without an import circle.
    """

    runs: pd.DataFrame
    observables: pd.DataFrame


EXAMPLE_COLUMNS = ("run_id", "layer", "layer_index", "layer_position", "measurement",
                   "noise_std", "measurement_seed")


@dataclass
class Trajectories:
    """Observable trajectories as arrays, aligned with one metadata row per example."""

    values: np.ndarray  # (examples, checkpoints, observables), NaN where absent
    lengths: np.ndarray  # (examples, observables): checkpoints of each trajectory, 0 = absent
    epochs: np.ndarray  # (examples, checkpoints): training progress, NaN where absent
    examples: pd.DataFrame  # one row per example
    observables: tuple[str, ...]  # canonical names, the last axis of `values`

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.values.shape

    @property
    def present(self) -> np.ndarray:
        """(examples, observables): whether the example has that trajectory at all."""
        return self.lengths > 0

    @property
    def position_onehot(self) -> np.ndarray:
        """(examples, 3) one-hot layer position in the order early, middle, deep."""
        position = self.examples["layer_position"].astype(str).to_numpy()
        return (position[:, None] == np.array(LAYER_POSITIONS)[None, :]).astype(np.float64)

    def select(self, observables: Sequence[str] | None = None, examples: np.ndarray | None = None) -> Trajectories:
        """A subset of observables (canonical or original names) and/or examples."""
        cols = (np.arange(len(self.observables)) if observables is None else
                np.array([self.observables.index(Observable.parse(o).name) for o in observables], dtype=int))
        rows = np.arange(len(self.examples)) if examples is None else np.asarray(examples)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return Trajectories(
            values=self.values[np.ix_(rows, np.arange(self.values.shape[1]), cols)],
            lengths=self.lengths[np.ix_(rows, cols)],
            epochs=self.epochs[rows],
            examples=self.examples.iloc[rows].reset_index(drop=True),
            observables=tuple(self.observables[i] for i in cols),
        )

    def to_long(self) -> pd.DataFrame:
        """Back to the long observables table (`unpivot`)."""
        return unpivot(self)


def pivot(dataset: DatasetTables, observables: Sequence[str] | None = None, ragged: str = "error") -> Trajectories:
    """Arrange a dataset's observables as (examples, checkpoints, observables).

    observables: canonical or original names to keep (default: every one present, in
    canonical order). ragged: "error" refuses trajectories of different lengths (diverged
    runs, recordings with other session counts) naming them; "pad" fills with NaN.
    """
    if ragged not in ("error", "pad"):
        raise ValueError("ragged must be 'error' or 'pad'")
    obs = dataset.observables
    obs_code = observable_codes(obs)
    if observables is None:
        selected = np.flatnonzero(np.bincount(obs_code, minlength=len(OBSERVABLES)) > 0)
    else:
        selected = np.array([OBSERVABLES.index(Observable.parse(o)) for o in observables], dtype=int)
    column_of = np.full(len(OBSERVABLES), -1, dtype=np.int16)
    column_of[selected] = np.arange(len(selected))
    column = column_of[obs_code]
    keep = column >= 0
    if not keep.any():
        raise ValueError("the dataset holds none of the requested observables")
    obs = obs[keep] if not keep.all() else obs
    column = column[keep]

    run_c, run_cats = category_codes(obs["run_id"])
    layer_c, layer_cats = category_codes(obs["layer"])
    meas_c, meas_cats = category_codes(obs["measurement"])
    n_keys = len(run_cats) * len(layer_cats) * len(meas_cats)
    key = combine(combine(run_c, layer_c, len(layer_cats), n_keys), meas_c, len(meas_cats), n_keys)
    example, _ = compact(key, n_keys)
    del key
    n_examples = int(example.max()) + 1
    checkpoint = obs["checkpoint"].to_numpy()
    n_checkpoints = int(checkpoint.max()) + 1
    n_observables = len(selected)

    lengths = np.bincount(combine(example, column, n_observables, n_examples * n_observables),
                          minlength=n_examples * n_observables)
    lengths = lengths.reshape(n_examples, n_observables)
    present_lengths = lengths[lengths > 0]
    if ragged == "error" and present_lengths.min() != present_lengths.max():
        e, o = np.argwhere((lengths > 0) & (lengths != present_lengths.max()))[0]
        row = np.flatnonzero((example == e) & (column == o))[0]
        raise ValueError(
            f"trajectories have different lengths: run {obs['run_id'].iloc[row]!r} layer "
            f"{obs['layer'].iloc[row]!r} has {lengths[e, o]} checkpoints, others "
            f"{present_lengths.max()}. Select runs of one length (e.g. "
            f"dataset.select(status='complete')) or pass ragged='pad' to fill with NaN."
        )

    values = np.full((n_examples, n_checkpoints, n_observables), np.nan)
    values[example, checkpoint, column] = obs["value"].to_numpy()
    epochs = np.full((n_examples, n_checkpoints), np.nan)
    epochs[example, checkpoint] = obs["epoch"].to_numpy()

    first_row = np.empty(n_examples, dtype=np.int64)
    first_row[example[::-1]] = np.arange(len(obs))[::-1]
    meta = obs.iloc[first_row][list(EXAMPLE_COLUMNS)].reset_index(drop=True)
    measure_codes, measure_cats = category_codes(obs["measure"])
    measure_c = np.array([MEASURES.index(c) for c in measure_cats])[measure_codes]
    for name in ("n_units", "n_units_total"):
        table = np.full((n_examples, len(MEASURES)), np.nan)
        table[example, measure_c] = as_float(obs[name])
        for m, measure in enumerate(MEASURES):
            missing = np.isnan(table[:, m])
            counts = np.where(missing, 0, table[:, m]).astype(np.int64)
            meta[f"{name}_{measure}"] = pd.arrays.IntegerArray(counts, missing)

    runs = dataset.runs.set_index(dataset.runs["run_id"].astype(str)).drop(columns="run_id")
    run_factors = runs.reindex(meta["run_id"].astype(str).to_numpy()).reset_index(drop=True)
    meta = pd.concat([meta, run_factors], axis=1)

    order = np.lexsort((meta["measurement"].astype(str).to_numpy(),
                        meta["layer_index"].to_numpy(),
                        meta["run_id"].astype(str).to_numpy()))
    return Trajectories(
        values=values[order],
        lengths=lengths[order],
        epochs=epochs[order],
        examples=meta.iloc[order].reset_index(drop=True),
        observables=tuple(OBSERVABLES[i].name for i in selected),
    )


def unpivot(trajectories: Trajectories) -> pd.DataFrame:
    """The long observables table of some trajectories (the inverse of `pivot`)."""
    e, o = np.nonzero(trajectories.lengths)
    counts = trajectories.lengths[e, o]
    rows_e = np.repeat(e, counts)
    rows_o = np.repeat(o, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    checkpoint = np.arange(counts.sum()) - starts
    observables = [Observable.parse(name) for name in trajectories.observables]
    measure = np.array([x.measure for x in observables])[rows_o]
    meta = trajectories.examples

    def take(name: str) -> pd.Series:
        return meta[name].iloc[rows_e].reset_index(drop=True)

    units = {}
    for name in ("n_units", "n_units_total"):
        counts = np.zeros(len(rows_e), dtype=np.int64)
        missing = np.zeros(len(rows_e), dtype=bool)
        for m in MEASURES:
            at = measure == m
            if at.any():
                column = meta[f"{name}_{m}"]
                counts[at] = column.to_numpy(dtype=np.int64, na_value=0)[rows_e[at]]
                missing[at] = column.isna().to_numpy()[rows_e[at]]
        units[name] = pd.arrays.IntegerArray(counts, missing) if missing.any() else counts

    def category(values: np.ndarray | pd.Series) -> pd.Categorical:
        return pd.Categorical(np.asarray(values, dtype=object).astype(str))

    frame = pd.DataFrame({
        "run_id": category(take("run_id")),
        "layer": category(take("layer")),
        "layer_index": take("layer_index").to_numpy(dtype=np.int64),
        "layer_position": category(take("layer_position")),
        "checkpoint": checkpoint.astype(np.int64),
        "epoch": trajectories.epochs[rows_e, checkpoint],
        "measure": category(measure),
        "function": category(np.array([x.function for x in observables])[rows_o]),
        "statistic": category(np.array([x.statistic for x in observables])[rows_o]),
        "measurement": category(take("measurement")),
        "n_units": units["n_units"],
        "n_units_total": units["n_units_total"],
        "noise_std": take("noise_std").to_numpy(dtype=np.float64),
        "measurement_seed": take("measurement_seed").to_numpy(dtype=np.int64),
        "value": trajectories.values[rows_e, checkpoint, rows_o],
    })
    return frame[list(OBSERVABLES_TABLE.names)]
