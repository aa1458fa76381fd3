"""The original study's dataset layout, in and out.

neuroailab/lr-identify published ``dataset.pkl``: a dict with ``X`` (examples x 21
checkpoints x observables), ``Y`` (rule labels), ``meta`` (record array of run factors,
one row per example = one layer of one network), ``obs_keys`` (observable names) and
optionally ``X_cat`` (one-hot layer position per checkpoint).

Pickles are read with a restricted unpickler that admits numpy arrays, dtypes, record
arrays and builtin containers only; any other reference (a function, a class of another
module) is refused before anything is called. The exporter writes ``.npz``, which numpy
reads without pickle (``np.load(path, allow_pickle=False)``).
"""

from __future__ import annotations

import importlib
import io
import json
import os
import pickle
import re
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shared_schema.dataset import Dataset, write_dataset
from shared_schema.errors import FormatError, Problem
from shared_schema.names import LAYER_POSITIONS, Observable, layer_positions

# Factor values of the original study <-> ours.
LEGACY_RULES = {"information": "ia", "feedback": "fa", "adam": "adam", "sgdm": "sgdm"}
LEGACY_ARCHITECTURES = {
    "alexnetlrn": "alexnet_lrn",
    "knet": "knet4",
    "knetlrn": "knet4_lrn",
    "knetc4": "knet5",
    "knetc4lrn": "knet5_lrn",
}
LEGACY_TASKS = {"audionet": "wsn", "simclr": "simclr:imagenet"}

# Meta field names we recognise (lower case) -> our run/layer column.
FIELD_ALIASES = {
    "learning_rule": ("learning_rule", "rule", "lr_rule"),
    "task": ("task", "dataset", "dataset_name"),
    "architecture": ("architecture", "model", "model_name", "arch"),
    "batch_size": ("batch_size", "bs", "train_batch_size"),
    "model_seed": ("model_seed", "seed", "model_init_seed"),
    "dataset_seed": ("dataset_seed", "dataset_randomization_seed", "data_seed"),
    "layer": ("layer", "layer_name", "layername"),
    "layer_index": ("layer_index", "layer_idx", "layer_depth"),
}
RUN_FACTORS = ("learning_rule", "task", "architecture", "batch_size", "model_seed", "dataset_seed")
PAPER_EPOCHS_PER_CHECKPOINT = 5.0  # 21 checkpoints, every 5 of 100 epochs

_SAFE_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy", "recarray"), ("numpy", "record"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy.core.records", "recarray"),
    ("numpy.core.records", "record"), ("numpy.rec", "recarray"),
    ("numpy.dtypes", "Float64DType"), ("numpy.dtypes", "Float32DType"),
    ("numpy.dtypes", "Int64DType"), ("numpy.dtypes", "StrDType"), ("numpy.dtypes", "VoidDType"),
    ("collections", "OrderedDict"), ("copy_reg", "_reconstructor"), ("copyreg", "_reconstructor"),
    ("_codecs", "encode"),
} | {
    (module, name)
    for module in ("builtins", "__builtin__")
    for name in ("dict", "list", "tuple", "set", "frozenset", "str", "bytes", "bytearray",
                 "int", "float", "complex", "bool", "object", "unicode", "long")
}


class UnsafePickleError(FormatError):
    """A legacy pickle refers to something other than numpy arrays and builtin containers."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedReader, source: str):
        super().__init__(file, encoding="latin1")
        self._source = source

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("numpy._core"):  # numpy 2 writes numpy._core, numpy 1 numpy.core
            module = module.replace("numpy._core", "numpy.core", 1)
        if (module, name) not in _SAFE_GLOBALS:
            raise UnsafePickleError([Problem(
                self._source,
                f"refers to '{module}.{name}', which is not a numpy array type or a builtin "
                f"container; it was refused before anything was run",
                "import only files of the original study's layout; if you made this file "
                "yourself and trust it, save its arrays with numpy.savez and import the .npz",
            )])
        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)
        if module.startswith("numpy.core") and hasattr(np, "_core"):
            module = module.replace("numpy.core", "numpy._core", 1)
        if name in ("unicode", "long"):
            name = {"unicode": "str", "long": "int"}[name]
        return getattr(importlib.import_module(module), name)


def read_legacy(path: str | Path) -> dict[str, Any]:
    """The arrays of a legacy file (.pkl through the restricted unpickler, or .npz)."""
    path = Path(path)
    source = path.name
    if not path.is_file():
        raise FormatError([Problem(source, f"{path} does not exist", "give the path of dataset.pkl")])
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                data = {key: archive[key] for key in archive.files}
        else:
            with path.open("rb") as handle:
                data = _NumpyOnlyUnpickler(handle, source).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, OSError, AttributeError) as error:
        raise FormatError([Problem(
            source, f"cannot be read as the original study's dataset ({type(error).__name__}: {error})",
            "give the dataset.pkl of neuroailab/lr-identify (or an .npz written by export-legacy)",
        )]) from None
    if not isinstance(data, dict):
        raise FormatError([Problem(source, f"holds a {type(data).__name__}, not a dict of arrays",
                                   "give the dict with X, Y, meta and obs_keys")])
    data = {(k.decode() if isinstance(k, bytes) else k): v for k, v in data.items()}
    for key in ("X", "Y", "meta", "obs_keys"):
        if key not in data:
            raise FormatError([Problem(source, f"has no '{key}' entry (it has {', '.join(map(str, data))})",
                                       "the original layout holds X, Y, meta, obs_keys and optionally X_cat",
                                       column=key)])
    return data


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("latin1")
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value)
    return None if text.lower() in ("none", "nan", "") else text


def _seed(value: Any) -> int | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return int(float(text))
    except ValueError:
        return None


def _meta_frame(meta: Any, n: int, source: str) -> pd.DataFrame:
    try:
        frame = pd.DataFrame.from_records(np.asarray(meta)) if np.asarray(meta).dtype.names else None
    except (TypeError, ValueError):
        frame = None
    if frame is None or len(frame) != n:
        raise FormatError([Problem(source, f"'meta' is not a record array with one row per example ({n})",
                                   "give meta as a numpy record array aligned with X", column="meta")])
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: v.decode("latin1") if isinstance(v, bytes) else v)
    return frame


def _find_field(frame: pd.DataFrame, ours: str) -> str | None:
    lower = {c.lower(): c for c in frame.columns}
    return next((lower[a] for a in FIELD_ALIASES[ours] if a in lower), None)


def _row_keys(frame: pd.DataFrame) -> list[str]:
    """One text key per row (nulls included), to group examples into runs."""
    return ["|".join(map(str, row)) for row in frame.itertuples(index=False)]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "run"


def legacy_to_dataset(
    data: dict[str, Any],
    source: str = "legacy",
    epochs_per_checkpoint: float | None = None,
    run_fields: list[str] | None = None,
) -> Dataset:
    """Bring the original layout into format v1 (in memory).

    Examples are grouped into runs by the recognised run factors (or ``run_fields``);
    an unrecognised meta field constant within every run becomes a runs.parquet column,
    one that varies within a run becomes a layers.parquet column. Nothing is dropped.
    """
    x = np.asarray(data["X"], dtype=np.float64)
    if x.ndim != 3:
        raise FormatError([Problem(source, f"X has shape {x.shape}, expected (examples, checkpoints, observables)",
                                   "give the 3-D X of the original layout", column="X")])
    n, k, n_obs = x.shape
    keys = [_text(v) for v in np.asarray(data["obs_keys"]).reshape(-1)]
    if len(keys) != n_obs:
        raise FormatError([Problem(source, f"obs_keys has {len(keys)} names for {n_obs} observables in X",
                                   "give one name per observable", column="obs_keys")])
    try:
        observables = [Observable.parse(key) for key in keys]
    except ValueError as error:
        raise FormatError([Problem(source, str(error), "use the original names (actabs_median ...)",
                                   column="obs_keys")]) from None
    meta = _meta_frame(data["meta"], n, source)
    labels = np.asarray(data["Y"]).reshape(-1)
    if len(labels) != n:
        raise FormatError([Problem(source, f"Y has {len(labels)} labels for {n} examples",
                                   "give one label per example", column="Y")])

    fields = {ours: _find_field(meta, ours) for ours in FIELD_ALIASES}
    factors = pd.DataFrame(index=meta.index)
    rule_field = fields["learning_rule"]
    rules = meta[rule_field] if rule_field else pd.Series(labels)
    factors["learning_rule"] = [LEGACY_RULES.get(str(_text(r)), _text(r)) for r in rules]
    for ours, mapping in (("task", LEGACY_TASKS), ("architecture", LEGACY_ARCHITECTURES)):
        column = fields[ours]
        factors[ours] = [mapping.get(str(_text(v)), _text(v)) for v in meta[column]] if column else None
    for ours in ("batch_size", "model_seed", "dataset_seed"):
        column = fields[ours]
        factors[ours] = pd.array([_seed(v) for v in meta[column]] if column else [None] * n, dtype="Int64")

    used = {f for f in fields.values() if f}
    if run_fields:
        unknown = [f for f in run_fields if f not in meta.columns]
        if unknown:
            raise FormatError([Problem(source, f"meta has no field(s) {', '.join(unknown)}",
                                       f"choose run fields among {', '.join(meta.columns)}", column="meta")])
        run_key = _row_keys(meta[run_fields])
    else:
        run_key = _row_keys(factors[list(RUN_FACTORS)])
    run_number = pd.factorize(np.array(run_key, dtype=object))[0]

    layer_field, index_field = fields["layer"], fields["layer_index"]
    order_in_run = pd.Series(np.arange(n)).groupby(run_number).cumcount().to_numpy()
    layer_index = (meta[index_field].astype(int).to_numpy() if index_field else order_in_run)
    layer_names = (meta[layer_field].map(_text).fillna("layer").astype(str).to_numpy() if layer_field
                   else np.array([f"layer{i}" for i in layer_index]))
    pairs = pd.DataFrame({"run": run_number, "layer": layer_names})
    if pairs.duplicated().any():
        row = int(np.flatnonzero(pairs.duplicated().to_numpy())[0])
        raise FormatError([Problem(
            source, f"examples {row} and an earlier one fall in the same run and layer when runs "
            f"are told apart by {', '.join(run_fields or RUN_FACTORS)}",
            f"name the meta fields that identify a run with --run-fields (fields: {', '.join(meta.columns)})",
            column="meta", row=row,
        )])

    if "X_cat" in data and data["X_cat"] is not None:
        onehot = np.asarray(data["X_cat"])
        onehot = onehot[:, 0, :] if onehot.ndim == 3 else onehot
        positions = np.array(LAYER_POSITIONS)[np.argmax(onehot, axis=-1)]
    else:
        sizes = pd.Series(run_number).map(pd.Series(run_number).value_counts()).to_numpy()
        positions = np.array([layer_positions(int(s))[min(int(i), int(s) - 1)]
                              for s, i in zip(sizes, order_in_run, strict=True)])

    run_ids = []
    seen: dict[str, int] = {}
    first_of_run = pd.Series(np.arange(n)).groupby(run_number).first().to_numpy()
    for row in first_of_run:
        f = factors.iloc[row]
        parts = [f["architecture"], f["task"], f["learning_rule"],
                 None if pd.isna(f["batch_size"]) else f"bs{f['batch_size']}",
                 f"ms{'none' if pd.isna(f['model_seed']) else f['model_seed']}",
                 f"ds{'none' if pd.isna(f['dataset_seed']) else f['dataset_seed']}"]
        base = _slug("_".join(str(p) for p in parts if p is not None))
        seen[base] = seen.get(base, 0) + 1
        run_ids.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    run_id_of_example = np.array(run_ids)[run_number]

    extra = [c for c in meta.columns if c not in used and c not in (run_fields or [])]
    constant = [c for c in extra if meta.groupby(run_number)[c].nunique(dropna=False).max() <= 1]
    varying = [c for c in extra if c not in constant]

    runs = factors.iloc[first_of_run].reset_index(drop=True)
    runs.insert(0, "run_id", run_ids)
    runs.insert(1, "source", "simulation")
    runs["status"] = "complete"
    runs["status_detail"] = None
    runs["hyperparameters"] = json.dumps({"imported_from": source})
    for column in constant:
        runs[column if column not in runs else f"legacy_{column}"] = meta[column].iloc[first_of_run].to_numpy()
    layers = None
    if varying:
        layers = pd.DataFrame({"run_id": run_id_of_example, "layer": layer_names})
        for column in varying:
            layers[column if column not in layers else f"legacy_{column}"] = meta[column].to_numpy()

    if epochs_per_checkpoint is None:
        epochs_per_checkpoint = PAPER_EPOCHS_PER_CHECKPOINT if k == 21 else 1.0
    e, c, o = np.meshgrid(np.arange(n), np.arange(k), np.arange(n_obs), indexing="ij")
    e, c, o = e.reshape(-1), c.reshape(-1), o.reshape(-1)
    observables_frame = pd.DataFrame({
        "run_id": pd.Categorical(run_id_of_example[e]),
        "layer": pd.Categorical(layer_names[e]),
        "layer_index": layer_index[e].astype(np.int64),
        "layer_position": pd.Categorical(positions[e]),
        "checkpoint": c.astype(np.int64),
        "epoch": c * float(epochs_per_checkpoint),
        "measure": pd.Categorical([observables[i].measure for i in range(n_obs)])[o],
        "function": pd.Categorical([observables[i].function for i in range(n_obs)])[o],
        "statistic": pd.Categorical([observables[i].statistic for i in range(n_obs)])[o],
        "measurement": pd.Categorical(["all"] * len(e)),
        "n_units": pd.array([None] * len(e), dtype="Int64"),
        "n_units_total": pd.array([None] * len(e), dtype="Int64"),
        "noise_std": np.zeros(len(e)),
        "measurement_seed": np.zeros(len(e), dtype=np.int64),
        "value": x.reshape(-1),
    })
    return Dataset(runs=runs, observables=observables_frame, layers=layers)


def import_legacy(
    path: str | Path,
    out: str | Path,
    *,
    epochs_per_checkpoint: float | None = None,
    run_fields: list[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Read a legacy .pkl/.npz and write it as a format v1 dataset directory."""
    data = read_legacy(path)
    dataset = legacy_to_dataset(data, Path(path).name, epochs_per_checkpoint, run_fields)
    return write_dataset(
        out, dataset.runs, dataset.observables, layers=dataset.layers, overwrite=overwrite,
        description=f"Imported from the original study's layout: {Path(path).name}",
    )


def dataset_to_legacy(dataset: Dataset, measurement: str = "all") -> dict[str, np.ndarray]:
    """The original layout's arrays (original rule/architecture/task names, no objects)."""
    trajectories = dataset.trajectories()
    keep = (trajectories.examples["measurement"].astype(str) == measurement).to_numpy()
    if not keep.any():
        available = sorted(set(trajectories.examples["measurement"].astype(str)))
        raise ValueError(f"no examples with measurement {measurement!r}; available: {', '.join(available)}")
    t = trajectories.select(examples=keep)
    meta = t.examples
    back = {
        "learning_rule": {v: k for k, v in LEGACY_RULES.items()},
        "architecture": {v: k for k, v in LEGACY_ARCHITECTURES.items()},
        "task": {v: k for k, v in LEGACY_TASKS.items()},
    }

    def text(column: str) -> np.ndarray:
        values = [_text(v) if v is not None and not (isinstance(v, float) and np.isnan(v)) else None
                  for v in meta[column].astype(object)]
        mapping = back.get(column, {})
        return np.array([mapping.get(v, v) if v is not None else "None" for v in values], dtype=str)

    record = {
        "run_id": text("run_id"),
        "learning_rule": text("learning_rule"),
        "task": text("task"),
        "model": text("architecture"),
        "batch_size": meta["batch_size"].astype("Int64").fillna(-1).to_numpy(dtype=np.int64),
        "model_seed": text("model_seed"),
        "dataset_seed": text("dataset_seed"),
        "layer": text("layer"),
        "layer_index": meta["layer_index"].to_numpy(dtype=np.int64),
        "layer_position": text("layer_position"),
        "source": text("source"),
    }
    meta_array = np.rec.fromarrays(list(record.values()), names=list(record))
    onehot = t.position_onehot
    return {
        "X": t.values,
        "Y": record["learning_rule"],
        "meta": meta_array,
        "obs_keys": np.array([Observable.parse(o).legacy_name for o in t.observables], dtype=str),
        "X_cat": np.repeat(onehot[:, None, :], t.values.shape[1], axis=1),
    }


def export_legacy(dataset: Dataset, path: str | Path, measurement: str = "all") -> Path:
    """Write the original layout as .npz (readable with np.load(..., allow_pickle=False))."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"{path}: export writes .npz (a format numpy reads without pickle)")
    arrays = dataset_to_legacy(dataset, measurement)
    temporary = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}.npz")
    try:
        np.savez_compressed(temporary, **arrays)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path
