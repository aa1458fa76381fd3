"""CSV recordings: one long table per animal.

Columns ``session``, ``stimulus``, ``unit``, ``response`` (required), and optionally
``time`` (session time, in days) and ``area``. Without ``time`` the sessions must be
numbered and the session numbers are the times (time unit "sessions", not days). Every
session must hold a response of every unit to every stimulus.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lrdecode.recordings.recording import Recording, RecordingError

REQUIRED = ("session", "stimulus", "unit", "response")


def _ordered(values: pd.Series) -> list:
    """Distinct ids in their natural order (numbers as numbers), else as first seen."""
    distinct = list(values.unique())
    try:
        return sorted(distinct)
    except TypeError:
        return distinct


def read_csv(path: Path, *, area: str | None = None, time_unit: str = "days",
             common_units: bool = False) -> Recording:
    try:
        table = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as error:
        raise RecordingError(f"{path.name}: not a readable CSV file ({error})") from None
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise RecordingError(
            f"{path.name}: missing column(s) {', '.join(missing)} (it has {', '.join(map(str, table.columns))}); "
            f"a CSV recording is long: session, stimulus, unit, response[, time, area]")
    response = pd.to_numeric(table["response"], errors="coerce")
    bad = response.isna() & table["response"].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise RecordingError(f"{path.name}: row {row + 2}: response {table['response'].iloc[row]!r} is not a number")
    table = table.assign(response=response)
    key = ["session", "stimulus", "unit"]
    duplicated = table.duplicated(subset=key)
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise RecordingError(
            f"{path.name}: row {row + 2}: session {table['session'].iloc[row]}, stimulus "
            f"{table['stimulus'].iloc[row]}, unit {table['unit'].iloc[row]} appears twice; keep one response")
    if "time" in table.columns:
        per_session = table.groupby("session")["time"].nunique()
        if (per_session > 1).any():
            raise RecordingError(f"{path.name}: session {per_session[per_session > 1].index[0]} has more than "
                                 f"one time; give each session one time")
        times = table.groupby("session")["time"].first()
    else:
        labels = sorted(table["session"].unique(), key=str)
        numbers = pd.to_numeric(pd.Series(labels), errors="coerce")
        if numbers.isna().any():
            named = [str(label) for label, number in zip(labels, numbers, strict=True) if pd.isna(number)]
            shown = ", ".join(named[:5]) + (" ..." if len(named) > 5 else "")
            raise RecordingError(f"{path.name}: sessions {shown} are not numbers and there is no time column; "
                                 f"add a time column (each session's time, e.g. in days) or number the sessions")
        times = pd.Series(numbers.to_numpy(dtype=float), index=labels)
        time_unit = "sessions"
    sessions = list(times.sort_values().index)

    units_per_session = {s: set(g["unit"]) for s, g in table.groupby("session")}
    all_units = set().union(*units_per_session.values())
    common = set.intersection(*units_per_session.values())
    if common != all_units:
        session, absent = next((s, all_units - u) for s, u in units_per_session.items() if u != all_units)
        if not common_units:
            lacking = ", ".join(map(str, _ordered(pd.Series(list(absent)))[:10]))
            raise RecordingError(
                f"{path.name}: the units differ between sessions (session {session} lacks unit(s) {lacking}); "
                f"record the same units in every session, or pass --common-units to keep only the "
                f"{len(common)} unit(s) present in all")
        table = table[table["unit"].isin(common)]
    stimuli_per_session = {s: set(g["stimulus"]) for s, g in table.groupby("session")}
    if len({frozenset(v) for v in stimuli_per_session.values()}) > 1:
        raise RecordingError(f"{path.name}: the stimuli differ between sessions; show the same probe "
                             f"stimuli in every session")
    unit_ids = _ordered(table["unit"])
    stimulus_ids = _ordered(table["stimulus"])
    grid = table.pivot_table(index=["session", "stimulus"], columns="unit", values="response", aggfunc="first",
                             dropna=False)
    grid = grid.reindex(pd.MultiIndex.from_product([sessions, stimulus_ids]), columns=unit_ids)
    responses = grid.to_numpy(dtype=np.float64).reshape(len(sessions), len(stimulus_ids), len(unit_ids))
    present = table.groupby(["session", "stimulus"]).size().reindex(grid.index).to_numpy().reshape(
        len(sessions), len(stimulus_ids))
    if (present != len(unit_ids)).any():
        s, k = np.argwhere(present != len(unit_ids))[0]
        raise RecordingError(f"{path.name}: session {sessions[s]}, stimulus {stimulus_ids[k]} lacks responses of "
                             f"some units; every unit needs a response to every stimulus in every session")
    if "area" in table.columns and area is None:
        areas = table.groupby("unit")["area"].first().reindex(unit_ids).astype(str).to_numpy()
    else:
        areas = np.full(len(unit_ids), area or path.stem)
    return Recording(
        responses=responses,
        session_times=times.loc[sessions].to_numpy(dtype=np.float64),
        unit_ids=np.asarray(unit_ids),
        unit_areas=areas,
        stimulus_ids=np.asarray(stimulus_ids),
        source=path.name,
        time_unit=time_unit,
    )
