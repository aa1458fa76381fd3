"""Recordings into the format: act statistics per session and area, with the raw responses.

A recording becomes one run (``source=recording``, ``learning_rule`` null): each area is
a layer, each session a checkpoint (``epoch`` = session time), and the act statistics of
every session are computed with the shared_schema reference exactly as lrsim computes them
on a network's probe set (per stimulus over units, then the mean over stimuli). The unit
responses go to units.parquet so that fewer units or more noise can be simulated later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lrdecode import __version__
from lrdecode.recordings.csv import read_csv
from lrdecode.recordings.npz import read_npz
from lrdecode.recordings.nwb import read_nwb
from lrdecode.recordings.recording import Recording, RecordingError, check
from shared_schema import LAYER_POSITIONS, Dataset, Observable, write_dataset
from shared_schema.statistics import act_statistics

FORMATS = {".nwb": "nwb", ".npz": "npz", ".csv": "csv"}


def infer_format(paths: Sequence[Path], given: str | None = None) -> str:
    """The recording format: given, or from the file extension (.nwb, .npz, .csv)."""
    if given is not None:
        if given not in FORMATS.values():
            raise RecordingError(f"unknown format {given!r}; use one of {', '.join(FORMATS.values())}")
        return given
    suffixes = {p.suffix.lower() for p in paths}
    if len(suffixes) != 1 or next(iter(suffixes)) not in FORMATS:
        raise RecordingError(
            f"cannot tell the format of {', '.join(p.name for p in paths)} from the extension; use .nwb, .npz "
            f"or .csv files (one format at a time), or pass --format")
    return FORMATS[suffixes.pop()]


def read_recording(paths: Sequence[str | Path], *, format: str | None = None, area: str | None = None,
                   common_units: bool = False, nwb_column: str = "stimulus_responses",
                   drop_nan_units: bool = True) -> Recording:
    """Read and check a recording from NWB files (one per session), one .npz or one .csv."""
    files = [Path(p) for p in paths]
    for path in files:
        if not path.is_file():
            raise RecordingError(f"{path}: no such file")
    kind = infer_format(files, format)
    if kind != "nwb" and len(files) != 1:
        raise RecordingError(f"a {kind} recording is one file holding every session; got {len(files)} files")
    if kind == "nwb":
        recording = read_nwb(files, area=area, column=nwb_column, common_units=common_units)
    elif kind == "npz":
        recording = read_npz(files[0], area=area)
    else:
        recording = read_csv(files[0], area=area, common_units=common_units)
    return check(recording, drop_nan_units=drop_nan_units)


def run_id_from(text: str) -> str:
    """A valid run id from free text (a file name): runs of other characters become one dash."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug or "recording"


def _positions(areas: list[str], position: str | Mapping[str, str]) -> dict[str, str]:
    mapping = dict.fromkeys(areas, position) if isinstance(position, str) else dict(position)
    missing = [a for a in areas if a not in mapping]
    if missing:
        raise RecordingError(f"no depth position for area(s) {', '.join(missing)}; give --position AREA=POSITION "
                             f"for each ({', '.join(LAYER_POSITIONS)})")
    for area, value in mapping.items():
        if value not in LAYER_POSITIONS:
            raise RecordingError(f"position {value!r} of area {area!r} is not one of {', '.join(LAYER_POSITIONS)}")
    return mapping


def recording_to_dataset(recording: Recording, *, run_id: str, position: str | Mapping[str, str],
                         task: str | None = None) -> Dataset:
    """One run of act statistics per (area, session), plus the unit responses."""
    areas = recording.areas
    positions = _positions(areas, position)
    names = [Observable("act", f, s).name for f in ("raw", "abs", "sq")
             for s in ("norm", "mean", "median", "q3", "var", "skew", "kurtosis")]
    observables, units = [], []
    times = recording.session_times
    for index, area in enumerate(areas):
        part = recording.area(area)
        n_units = part.responses.shape[2]
        for session in range(recording.n_sessions):
            values = act_statistics(part.responses[session])
            observables.append(pd.DataFrame({
                "layer": area, "layer_index": index, "layer_position": positions[area],
                "checkpoint": session, "epoch": float(times[session]),
                "measure": "act", "function": [n.split(".")[1] for n in names],
                "statistic": [n.split(".")[2] for n in names], "measurement": "all",
                "n_units": n_units, "n_units_total": n_units, "noise_std": 0.0, "measurement_seed": 0,
                "value": [values[n] for n in names],
            }))
        units.append(part.responses)
    obs = pd.concat(observables, ignore_index=True)
    obs.insert(0, "run_id", run_id)
    for column in ("run_id", "layer", "measure"):
        obs[column] = obs[column].astype("category")
    unit_table = _unit_table(units, run_id, areas, times)
    hyperparameters = {
        "ingested_by": f"lrdecode {__version__}",
        "source_files": recording.source,
        "time_unit": recording.time_unit,
        "unit_ids": [str(u) for u in recording.unit_ids],
        "stimulus_ids": [str(s) for s in recording.stimulus_ids],
        "notes": recording.notes,
    }
    runs = pd.DataFrame({
        "run_id": [run_id], "source": ["recording"], "learning_rule": [None], "task": [task],
        "architecture": [None], "batch_size": pd.array([None], dtype="Int64"),
        "model_seed": pd.array([None], dtype="Int64"), "dataset_seed": pd.array([None], dtype="Int64"),
        "status": ["complete"], "status_detail": [None], "hyperparameters": [json.dumps(hyperparameters)],
    })
    return Dataset(runs=runs, observables=obs, units=unit_table)


def _unit_table(responses: list[np.ndarray], run_id: str, areas: list[str], times: np.ndarray) -> pd.DataFrame:
    """Long rows (area, session, stimulus, unit) of every response; categories built from codes (5M rows: fast)."""
    columns: dict[str, list[np.ndarray]] = {"layer": [], "checkpoint": [], "stimulus": [], "unit": [],
                                            "n_units_total": [], "value": []}
    for index, area_responses in enumerate(responses):
        session, stimulus, unit = (a.reshape(-1) for a in np.indices(area_responses.shape))
        columns["layer"].append(np.full(len(session), index, dtype=np.int32))
        columns["checkpoint"].append(session)
        columns["stimulus"].append(stimulus)
        columns["unit"].append(unit)
        columns["n_units_total"].append(np.full(len(session), area_responses.shape[2]))
        columns["value"].append(area_responses.reshape(-1))
    flat = {name: np.concatenate(parts) for name, parts in columns.items()}
    rows = len(flat["value"])
    return pd.DataFrame({
        "run_id": pd.Categorical.from_codes(np.zeros(rows, dtype=np.int32), [run_id]),
        "layer": pd.Categorical.from_codes(flat["layer"], areas),
        "checkpoint": flat["checkpoint"], "epoch": np.asarray(times, dtype=np.float64)[flat["checkpoint"]],
        "measure": pd.Categorical.from_codes(np.zeros(rows, dtype=np.int32), ["act"]),
        "stimulus": flat["stimulus"], "unit": flat["unit"], "n_units_total": flat["n_units_total"],
        "value": flat["value"],
    })


def ingest(paths: Sequence[str | Path], out: str | Path, *, position: str | Mapping[str, str],
           run_id: str | None = None, task: str | None = None, overwrite: bool = False,
           **read_options) -> Path:
    """Read a recording and write it as a format v1 dataset directory."""
    recording = read_recording(paths, **read_options)
    run = run_id_from(run_id or Path(paths[0]).stem)
    dataset = recording_to_dataset(recording, run_id=run, position=position, task=task)
    return write_dataset(out, dataset.runs, dataset.observables, units=dataset.units, overwrite=overwrite,
                         producer=("lrdecode", __version__),
                         description=f"Recording ingested from {recording.source}")
