"""Reading the tables of a dataset and every check of format v1.

All checks on observables.parquet are vectorised over integer codes (no sort of the whole
table), so a paper-scale file of 20 million rows validates in seconds. Each problem names
the file, the column or first offending row (rows counted from 0), and what to do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shared_schema.errors import FormatError, Problem
from shared_schema.learning_curve import parse_learning_curve
from shared_schema.manifest import read_manifest
from shared_schema.names import OBSERVABLES
from shared_schema.tables import (
    LAYERS,
    RUN_ID_PATTERN,
    RUNS,
    UNITS,
    Column,
    Table,
)
from shared_schema.tables import (
    OBSERVABLES as OBSERVABLES_TABLE,
)

_DENSE_LIMIT = 64_000_000  # largest key space handled with a dense array instead of a sort


@dataclass
class ValidationReport:
    """What `validate_dataset` found, and the tables it read on the way."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise FormatError(self.errors)


# ---------------------------------------------------------------- reading one table


def _kind(data_type: pa.DataType) -> str:
    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type) or (
        hasattr(pa.types, "is_string_view") and pa.types.is_string_view(data_type)
    ):
        return "string"
    if pa.types.is_integer(data_type):
        return "integer"
    if pa.types.is_floating(data_type):
        return "float"
    if pa.types.is_boolean(data_type):
        return "boolean"
    if pa.types.is_null(data_type):
        return "null"
    return str(data_type)


def _kind_ok(column: Column, kind: str) -> bool:
    if kind == column.kind:
        return True
    if kind == "null":
        return column.nullable
    return column.kind == "float" and kind == "integer"


def _narrow_integers(values: np.ndarray) -> np.ndarray:
    """int32 when every value fits (halves the memory of checkpoint, layer_index...)."""
    if values.size and values.min() >= -(2**31) and values.max() < 2**31:
        return values.astype(np.int32)
    return values


def _to_pandas(column: Column, data: pa.ChunkedArray) -> pd.Series | np.ndarray:
    """Convert one Arrow column to its pandas form for the checks and the reader."""
    if column.category:
        if not pa.types.is_dictionary(data.type):
            data = data.cast(pa.string()).dictionary_encode()
        return data.to_pandas()
    if column.kind == "integer":
        if column.nullable and data.null_count:
            mapper = {pa.int64(): pd.Int64Dtype()}.get
            return pd.Series(data.cast(pa.int64()).to_pandas(types_mapper=mapper))
        return _narrow_integers(data.cast(pa.int64()).to_numpy())
    if column.kind == "float":
        return data.cast(pa.float64()).to_numpy()
    if column.kind == "string" and _kind(data.type) == "null":
        return pd.Series([None] * len(data), dtype=object)
    return data.to_pandas()


def columns_to_frame(
    schema: pa.Schema, read_column: Callable[[str], pa.ChunkedArray], spec: Table, file: str
) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Check a table's columns and kinds, and convert it to a DataFrame column by column
    (so the Arrow and pandas copies of the whole table never coexist)."""
    problems: list[Problem] = []
    present = set(schema.names)
    for column in spec.columns:
        if column.name not in present:
            problems.append(Problem(
                file, f"required column '{column.name}' is missing",
                f"add a {column.kind} column '{column.name}' ({column.description})",
                column=column.name,
            ))
    known = {c.name: c for c in spec.columns + spec.optional_columns}
    if not spec.extra_columns_allowed:
        for name in schema.names:
            if name not in known:
                problems.append(Problem(
                    file, f"unknown column '{name}' is ignored",
                    "remove it, or upgrade shared_schema if a newer format defines it",
                    column=name, severity="warning",
                ))
    for name in schema.names:
        column = known.get(name)
        kind = _kind(schema.field(name).type)
        if column is not None and not _kind_ok(column, kind):
            problems.append(Problem(
                file, f"has type {schema.field(name).type} ({kind}), expected {column.kind}",
                f"write '{name}' as {column.kind} values", column=name,
            ))
    if any(p.severity == "error" for p in problems):
        return None, problems
    converted = {}
    for name in schema.names:
        column = known.get(name)
        if column is None and not spec.extra_columns_allowed:
            continue
        data = read_column(name)
        if column is not None and data.null_count and not column.nullable:
            problems.append(Problem(
                file, f"has {data.null_count} missing value(s); this column may not be null",
                f"fill '{name}' in every row", column=name,
                row=_first_true(data.is_null().to_numpy(zero_copy_only=False)),
            ))
            continue
        converted[name] = data.to_pandas() if column is None else _to_pandas(column, data)
        del data
    if any(p.severity == "error" for p in problems):
        return None, problems
    return pd.DataFrame(converted, copy=False), problems


def read_parquet(directory: Path, spec: Table) -> tuple[pd.DataFrame | None, list[Problem]]:
    """Read and type-check one table file of a dataset (None if absent or unreadable)."""
    path = directory / spec.file
    if not path.is_file():
        if spec.required:
            return None, [Problem(
                spec.file, f"missing from {directory}",
                f"a dataset must hold {spec.file} ({spec.description.lower()})",
            )]
        return None, []
    try:
        parquet = pq.ParquetFile(path)
        # One column at a time: the Arrow and pandas copies of the table never coexist.
        return columns_to_frame(
            parquet.schema_arrow, lambda name: parquet.read(columns=[name]).column(0), spec, spec.file
        )
    except (pa.ArrowException, OSError, ValueError) as error:
        return None, [Problem(
            spec.file, f"is not a readable Parquet file ({type(error).__name__}: {error})",
            "the file is truncated or not Parquet; write it again (writes are atomic, so "
            "an interrupted copy is the usual cause)",
        )]


# ---------------------------------------------------------------- helpers


def as_float(values: pd.Series | np.ndarray) -> np.ndarray:
    """Numbers as a numpy array: nullable integer columns become float64 with NaN."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.Int64Dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(values)


def _first_true(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def category_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (pandas' narrow dtype, -1 = null) and categories of a string column."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype("category")
    return np.asarray(values.cat.codes), values.cat.categories


def index_dtype(size: int) -> type[np.signedinteger]:
    """The narrowest integer dtype for indices below size (int32 halves temporaries)."""
    return np.int32 if size < 2**31 else np.int64


def combine(major: np.ndarray, minor: np.ndarray, n_minor: int, size: int) -> np.ndarray:
    """major * n_minor + minor, in a dtype wide enough for keys below size."""
    dtype = index_dtype(size)
    return major.astype(dtype) * dtype(n_minor) + minor.astype(dtype)


def compact(key: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Map keys in [0, size) to dense ids 0..n-1 in key order; returns (ids, unique keys)."""
    if size <= _DENSE_LIMIT:
        present = np.zeros(size, dtype=bool)
        present[key] = True
        unique = np.flatnonzero(present)
        lookup = (np.cumsum(present) - 1).astype(index_dtype(len(unique)))
        return lookup[key], unique
    unique, ids = np.unique(key, return_inverse=True)
    return ids.reshape(-1), unique


def observable_codes(frame: pd.DataFrame) -> np.ndarray:
    """Canonical observable index (0..44) of each row, -1 where the triple is not defined."""
    m, m_cats = category_codes(frame["measure"])
    f, f_cats = category_codes(frame["function"])
    s, s_cats = category_codes(frame["statistic"])
    lut = np.full((len(m_cats) + 1, len(f_cats) + 1, len(s_cats) + 1), -1, dtype=np.int16)
    index = {(o.measure, o.function, o.statistic): i for i, o in enumerate(OBSERVABLES)}
    for a, measure in enumerate(m_cats):
        for b, function in enumerate(f_cats):
            for c, statistic in enumerate(s_cats):
                lut[a, b, c] = index.get((measure, function, statistic), -1)
    return lut[m, f, s]  # code -1 (null) indexes the trailing -1 row


def _check_values(frame: pd.DataFrame, spec: Table, file: str) -> list[Problem]:
    """String columns with allowed values: the first row holding anything else."""
    problems = []
    for column in spec.columns:
        if column.values is None or column.name not in frame:
            continue
        codes, categories = category_codes(frame[column.name])
        bad_categories = [i for i, c in enumerate(categories) if c not in column.values]
        if not bad_categories:
            continue
        bad_rows = np.isin(codes, bad_categories)
        if bad_rows.any():
            row = _first_true(bad_rows)
            problems.append(Problem(
                file, f"unknown {column.name} {categories[codes[row]]!r}",
                f"use one of {', '.join(column.values)}",
                column=column.name, row=row,
            ))
    return problems


def _check_run_ids(frame: pd.DataFrame, file: str) -> list[Problem]:
    codes, categories = category_codes(frame["run_id"])
    bad = [i for i, c in enumerate(categories) if not RUN_ID_PATTERN.match(str(c))]
    if not bad:
        return []
    row = _first_true(np.isin(codes, bad))
    return [Problem(
        file, f"run_id {categories[codes[row]]!r} may only use letters, digits, '.', '_' and '-', "
        "and may not start with '.'",
        "rename the run (no '/', '..' or spaces: run ids become file names)",
        column="run_id", row=row,
    )]


def _representatives(group: np.ndarray, n_groups: int) -> np.ndarray:
    """For every row, the index of one fixed row of its group."""
    first = np.empty(n_groups, dtype=index_dtype(len(group)))
    first[group] = np.arange(len(group), dtype=first.dtype)
    return first[group]


def _consistent(representative: np.ndarray, values: np.ndarray) -> int | None:
    """First row whose value differs from its group's representative row, else None."""
    reference = values[representative]
    differs = reference != values
    if values.dtype.kind == "f":
        differs &= ~(np.isnan(reference) & np.isnan(values))
    return _first_true(differs) if differs.any() else None


# ---------------------------------------------------------------- table checks


def check_runs(runs: pd.DataFrame) -> list[Problem]:
    file = RUNS.file
    problems = _check_values(runs, RUNS, file) + _check_run_ids(runs, file)
    duplicated = runs["run_id"].duplicated()
    if duplicated.any():
        row = _first_true(duplicated.to_numpy())
        problems.append(Problem(
            file, f"run_id {runs['run_id'].iloc[row]!r} appears more than once",
            "give every run its own id (merge shards with distinct ids)",
            column="run_id", row=row,
        ))
    for row, text in enumerate(runs["hyperparameters"]):
        try:
            parsed = json.loads(text)
        except (TypeError, json.JSONDecodeError):
            parsed = None
        if not isinstance(parsed, dict):
            problems.append(Problem(
                file, f"hyperparameters {str(text)[:60]!r} is not a JSON object",
                "write a JSON object such as '{\"lr\": 0.1}' ('{}' when there are none)",
                column="hyperparameters", row=row,
            ))
            break
    if "learning_curve" in runs.columns:
        for row, text in enumerate(runs["learning_curve"]):
            try:
                parse_learning_curve(None if pd.isna(text) else text)
            except ValueError as error:
                problems.append(Problem(
                    file, f"learning_curve of run {runs['run_id'].iloc[row]!r}: {error}",
                    "write a JSON array such as '[{\"epoch\": 1, \"metric\": 0.5, \"loss\": 1.2}]' (null when none)",
                    column="learning_curve", row=row,
                ))
                break
    unfinished = runs["status"].isin(["diverged", "failed"]) & runs["status_detail"].isna()
    if unfinished.any():
        row = _first_true(unfinished.to_numpy())
        problems.append(Problem(
            file, f"run {runs['run_id'].iloc[row]!r} is {runs['status'].iloc[row]} without a status_detail",
            "record why in status_detail", column="status_detail", row=row, severity="warning",
        ))
    for name in ("batch_size",):
        bad = runs[name].notna() & (runs[name] < 1)
        if bad.any():
            problems.append(Problem(
                file, f"{name} must be at least 1", f"fix {name}", column=name,
                row=_first_true(bad.to_numpy()),
            ))
    return problems


def check_observables(obs: pd.DataFrame, runs: pd.DataFrame | None) -> list[Problem]:
    file = OBSERVABLES_TABLE.file
    problems = _check_values(obs, OBSERVABLES_TABLE, file) + _check_run_ids(obs, file)
    if problems:
        return problems
    n_rows = len(obs)
    if n_rows == 0:
        return [Problem(file, "has no rows", "write at least one observable value")]

    obs_code = observable_codes(obs)
    if (obs_code < 0).any():
        row = _first_true(obs_code < 0)
        return [Problem(
            file,
            f"statistic {obs['statistic'].iloc[row]!r} is not defined for measure "
            f"{obs['measure'].iloc[row]!r} (function {obs['function'].iloc[row]!r})",
            "weight and act take norm, mean, median, q3, var, skew, kurtosis; grad takes id",
            column="statistic", row=row,
        )]

    for name, low in (("checkpoint", 0), ("layer_index", 0), ("n_units", 1),
                      ("n_units_total", 1), ("measurement_seed", 0)):
        values = as_float(obs[name])
        bad = values < low
        if bad.any():
            problems.append(Problem(
                file, f"{name} is {values[_first_true(bad)]:g}, below {low}",
                f"{name} must be an integer >= {low}", column=name, row=_first_true(bad),
            ))
    n_units, n_total = as_float(obs["n_units"]), as_float(obs["n_units_total"])
    if (n_units > n_total).any():
        row = _first_true(n_units > n_total)
        problems.append(Problem(
            file, f"n_units {n_units[row]:g} exceeds n_units_total {n_total[row]:g}",
            "n_units counts the measured units among n_units_total", column="n_units", row=row,
        ))
    noise = obs["noise_std"].to_numpy()
    if not (np.isfinite(noise) & (noise >= 0)).all():
        row = _first_true(~(np.isfinite(noise) & (noise >= 0)))
        problems.append(Problem(file, f"noise_std {noise[row]} is not a finite number >= 0",
                                "fix the noise std", column="noise_std", row=row))
    epoch = obs["epoch"].to_numpy()
    if not np.isfinite(epoch).all():
        row = _first_true(~np.isfinite(epoch))
        problems.append(Problem(file, "epoch is not finite", "record the training progress",
                                column="epoch", row=row))
    if problems:
        return problems

    run_c, run_cats = category_codes(obs["run_id"])
    layer_c, layer_cats = category_codes(obs["layer"])
    meas_c, meas_cats = category_codes(obs["measurement"])

    if runs is not None:
        known = set(runs["run_id"])
        missing = [i for i, r in enumerate(run_cats) if r not in known]
        if missing:
            row = _first_true(np.isin(run_c, missing))
            problems.append(Problem(
                file, f"observables for run {run_cats[run_c[row]]!r}, which is absent from runs.parquet",
                "add the run to runs.parquet, or drop its observables",
                column="run_id", row=row,
            ))

    # (run, layer): one layer_index and one position.
    n_keys = len(run_cats) * len(layer_cats)
    pair, _ = compact(combine(run_c, layer_c, len(layer_cats), n_keys), n_keys)
    n_pairs = int(pair.max()) + 1
    representative = _representatives(pair, n_pairs)
    for name in ("layer_index", "layer_position"):
        values = obs[name].to_numpy() if name == "layer_index" else category_codes(obs[name])[0]
        row = _consistent(representative, values)
        if row is not None:
            problems.append(Problem(
                file, f"layer {obs['layer'].iloc[row]!r} of run {obs['run_id'].iloc[row]!r} has "
                f"more than one {name}",
                f"give each layer of a run a single {name}", column=name, row=row,
            ))

    checkpoint = obs["checkpoint"].to_numpy()
    k_max = int(checkpoint.max()) + 1
    # (run, checkpoint): one epoch, and epochs never go back in time.
    run_ckpt = combine(run_c, checkpoint, k_max, len(run_cats) * k_max)
    if len(run_cats) * k_max <= _DENSE_LIMIT:
        row = _consistent(_representatives(run_ckpt, len(run_cats) * k_max), epoch)
        if row is not None:
            problems.append(Problem(
                file, f"checkpoint {checkpoint[row]} of run {obs['run_id'].iloc[row]!r} has more than one epoch",
                "all layers and statistics of a checkpoint share its epoch", column="epoch", row=row,
            ))
        else:
            epochs = np.full(len(run_cats) * k_max, np.nan)
            epochs[run_ckpt] = epoch
            epochs = epochs.reshape(len(run_cats), k_max)
            with np.errstate(invalid="ignore"):
                back = np.diff(epochs, axis=1) < 0
            if back.any():
                r, k = np.argwhere(back)[0]
                problems.append(Problem(
                    file, f"run {run_cats[r]!r}: epoch decreases from checkpoint {k} to {k + 1}",
                    "number checkpoints in training order", column="epoch",
                ))

    # series = (run, layer, measurement, observable): measurement fields constant,
    # checkpoints 0..K-1 each exactly once.
    n_keys = n_pairs * len(meas_cats) * len(OBSERVABLES)
    series_key = combine(combine(pair, meas_c, len(meas_cats), n_keys), obs_code, len(OBSERVABLES), n_keys)
    series, _ = compact(series_key, n_keys)
    del series_key
    n_series = int(series.max()) + 1
    representative = _representatives(series, n_series)
    for name in ("n_units", "n_units_total", "noise_std", "measurement_seed"):
        row = _consistent(representative, as_float(obs[name]))
        if row is not None:
            problems.append(Problem(
                file, f"{name} changes along the trajectory of {_describe(obs, row)}",
                f"a measurement setting keeps {name} fixed across checkpoints", column=name, row=row,
            ))
    if n_series * k_max <= 4 * _DENSE_LIMIT:
        flat = combine(series, checkpoint, k_max, n_series * k_max)
        counts = np.bincount(flat, minlength=n_series * k_max)
        if (counts > 1).any():
            row = _first_true(counts[flat] > 1)
            problems.append(Problem(
                file, f"duplicate row: {_describe(obs, row)} at checkpoint {checkpoint[row]} "
                f"appears {counts[flat[row]]} times",
                "keep one row per (run, layer, checkpoint, measure, function, statistic, measurement)",
                row=row,
            ))
        else:
            occupied = counts.reshape(n_series, k_max) > 0
            length = k_max - np.argmax(occupied[:, ::-1], axis=1)
            gaps = occupied.sum(axis=1) != length
            if gaps.any():
                s = int(np.flatnonzero(gaps)[0])
                missing = int(np.flatnonzero(~occupied[s, : length[s]])[0])
                row = _first_true(series == s)
                problems.append(Problem(
                    file, f"the trajectory of {_describe(obs, row)} misses checkpoint {missing} "
                    f"(it has checkpoints up to {length[s] - 1})",
                    "write every checkpoint 0..K-1 of a trajectory; NaN is allowed as a value",
                    column="checkpoint", row=row,
                ))
    else:
        keys = pd.DataFrame({"series": series, "checkpoint": checkpoint})
        if keys.duplicated().any():
            row = _first_true(keys.duplicated().to_numpy())
            problems.append(Problem(file, f"duplicate row: {_describe(obs, row)}", "keep one row per key", row=row))
    return problems


def _describe(obs: pd.DataFrame, row: int) -> str:
    r = obs.iloc[row]
    return (f"run {r['run_id']!r}, layer {r['layer']!r}, {r['measure']}.{r['function']}."
            f"{r['statistic']}, measurement {r['measurement']!r}")


def check_units(units: pd.DataFrame, runs: pd.DataFrame | None) -> list[Problem]:
    file = UNITS.file
    problems = _check_values(units, UNITS, file) + _check_run_ids(units, file)
    if problems or units.empty:
        return problems
    if runs is not None:
        missing = ~units["run_id"].isin(set(runs["run_id"]))
        if missing.any():
            row = _first_true(missing.to_numpy())
            problems.append(Problem(
                file, f"unit responses for run {units['run_id'].iloc[row]!r}, absent from runs.parquet",
                "add the run to runs.parquet", column="run_id", row=row,
            ))
    is_act = (units["measure"] == "act").to_numpy()
    stimulus_null = units["stimulus"].isna().to_numpy()
    if (is_act & stimulus_null).any() or (~is_act & ~stimulus_null).any():
        row = _first_true((is_act & stimulus_null) | (~is_act & ~stimulus_null))
        problems.append(Problem(
            file, "stimulus must be set for act rows and null for weight rows",
            "record the probe stimulus index of every response", column="stimulus", row=row,
        ))
    for name, low in (("checkpoint", 0), ("unit", 0), ("n_units_total", 1)):
        bad = units[name].to_numpy() < low
        if bad.any():
            problems.append(Problem(file, f"{name} below {low}", f"{name} must be >= {low}",
                                    column=name, row=_first_true(bad)))
    if (units["unit"].to_numpy() >= units["n_units_total"].to_numpy()).any():
        row = _first_true(units["unit"].to_numpy() >= units["n_units_total"].to_numpy())
        problems.append(Problem(file, "unit index is not below n_units_total",
                                "unit indexes the layer's flattened population", column="unit", row=row))
    if problems:
        return problems
    key = ["run_id", "layer", "measure", "checkpoint", "stimulus", "unit"]
    duplicated = units.duplicated(subset=key).to_numpy()
    if duplicated.any():
        row = _first_true(duplicated)
        return [Problem(file, f"duplicate unit response for run {units['run_id'].iloc[row]!r}, "
                        f"layer {units['layer'].iloc[row]!r}", "keep one row per key", row=row)]
    groups = units.groupby(["run_id", "layer", "measure"], observed=True, sort=False).agg(
        rows=("value", "size"),
        n_units=("unit", "nunique"),
        n_stimuli=("stimulus", "nunique"),
        n_checkpoints=("checkpoint", "nunique"),
        last_checkpoint=("checkpoint", "max"),
    )
    stimuli = groups["n_stimuli"].where(groups["n_stimuli"] > 0, 1)
    incomplete = groups["rows"] != groups["n_units"] * stimuli * groups["n_checkpoints"]
    gaps = groups["n_checkpoints"] != groups["last_checkpoint"] + 1
    for bad, message, fix in (
        (incomplete, "units or stimuli differ between checkpoints",
         "record the same units and stimuli at every checkpoint (a fixed electrode/field)"),
        (gaps, "checkpoints are not 0..K-1 without gaps", "number checkpoints 0..K-1"),
    ):
        if bad.any():
            run_id, layer, measure = bad[bad].index[0]
            problems.append(Problem(file, f"run {run_id!r}, layer {layer!r}, {measure}: {message}", fix))
    return problems


def check_layers(layers: pd.DataFrame, obs: pd.DataFrame | None) -> list[Problem]:
    file = LAYERS.file
    problems = []
    duplicated = layers.duplicated(subset=["run_id", "layer"]).to_numpy()
    if duplicated.any():
        problems.append(Problem(file, "a (run_id, layer) pair appears twice", "keep one row per layer",
                                row=_first_true(duplicated)))
    if obs is not None:
        pairs = obs[["run_id", "layer"]].drop_duplicates()
        known = set(zip(pairs["run_id"].astype(str), pairs["layer"].astype(str), strict=True))
        for row, (run_id, layer) in enumerate(zip(layers["run_id"], layers["layer"], strict=True)):
            if (str(run_id), str(layer)) not in known:
                problems.append(Problem(
                    file, f"layer {layer!r} of run {run_id!r} has no observables",
                    "describe only layers present in observables.parquet", row=row,
                ))
                break
    return problems


# ---------------------------------------------------------------- whole dataset


def validate_dataset(path: str | Path) -> ValidationReport:
    """Every check of format v1 on a dataset directory."""
    directory = Path(path)
    report = ValidationReport(path=directory)
    manifest, problems = read_manifest(directory)
    report.manifest = manifest
    report.problems += problems
    if manifest is None or any(p.severity == "error" and p.column == "format_version" for p in problems):
        return report
    runs, problems = read_parquet(directory, RUNS)
    report.problems += problems
    if runs is not None:
        report.problems += check_runs(runs)
        report.tables["runs"] = runs
    obs, problems = read_parquet(directory, OBSERVABLES_TABLE)
    report.problems += problems
    if obs is not None:
        report.problems += check_observables(obs, runs)
        report.tables["observables"] = obs
    for spec, check, name in ((UNITS, check_units, "units"), (LAYERS, check_layers, "layers")):
        frame, problems = read_parquet(directory, spec)
        report.problems += problems
        if frame is not None:
            report.problems += check(frame, runs if name == "units" else obs)
            report.tables[name] = frame
    if runs is not None and obs is not None and report.ok:
        with_values = set(obs["run_id"].cat.categories[np.unique(obs["run_id"].cat.codes)])
        silent = runs[(runs["status"] == "complete") & ~runs["run_id"].isin(with_values)]
        if len(silent):
            report.problems.append(Problem(
                RUNS.file, f"complete run {silent['run_id'].iloc[0]!r} has no observables",
                "mark it failed, or add its observables", column="run_id",
                row=int(silent.index[0]), severity="warning",
            ))
    return report

