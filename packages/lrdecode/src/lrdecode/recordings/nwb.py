"""NWB recordings (pynwb): one file per session, the NWB convention.

Layout read, exactly:
- ``session_start_time`` of each file orders the sessions; session time = days since the
  earliest file's start.
- The Units table (``nwbfile.units``): its ids are the unit ids (the same units in every
  session), and a column (default ``stimulus_responses``, see ``--nwb-column``) holds one
  row per unit of one value per probe stimulus (a 2-D column, units x stimuli: e.g. the
  unit's mean firing rate to each stimulus), with stimuli in the same order in every file.
- Optional: a Units column ``location`` (or ``--area-column``) naming each unit's area.

`write_example_nwb` shows how such files are made with pynwb.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from lrdecode.recordings.recording import Recording, RecordingError

DEFAULT_COLUMN = "stimulus_responses"


def _pynwb():
    try:
        import pynwb
    except ImportError:
        raise RecordingError("reading NWB needs pynwb: pip install 'lrdecode[nwb]'") from None
    return pynwb


def read_nwb(paths: Sequence[Path], *, area: str | None = None, column: str = DEFAULT_COLUMN,
             area_column: str = "location", common_units: bool = False) -> Recording:
    pynwb = _pynwb()
    sessions = []
    for path in paths:
        try:
            with pynwb.NWBHDF5IO(str(path), "r") as io:
                nwbfile = io.read()
                units = nwbfile.units
                if units is None:
                    raise RecordingError(f"{path.name}: has no Units table; unit responses must be in nwbfile.units")
                if column not in units.colnames:
                    raise RecordingError(
                        f"{path.name}: the Units table has no column '{column}' (it has "
                        f"{', '.join(units.colnames) or 'none'}); store each unit's response to each stimulus "
                        f"there, or name the column with --nwb-column")
                values = np.asarray(units[column].data[:], dtype=np.float64)
                if values.ndim != 2:
                    raise RecordingError(f"{path.name}: column '{column}' must hold one value per stimulus for "
                                         f"each unit (units x stimuli), got shape {values.shape}")
                ids = np.asarray(units.id[:])
                areas = (np.asarray(units[area_column].data[:]).astype(str) if area_column in units.colnames
                         else None)
                sessions.append((nwbfile.session_start_time, path.name, ids, values, areas))
        except RecordingError:
            raise
        except (OSError, ValueError, KeyError) as error:
            raise RecordingError(f"{path.name}: not a readable NWB file ({type(error).__name__}: {error})") from None
    if not sessions:
        raise RecordingError("no NWB files given")
    sessions.sort(key=lambda s: s[0])
    names = ", ".join(s[1] for s in sessions)
    unit_sets = [set(s[2].tolist()) for s in sessions]
    common = set.intersection(*unit_sets)
    if any(u != unit_sets[0] for u in unit_sets) and not common_units:
        odd = next(s for s, u in zip(sessions, unit_sets, strict=True) if u != unit_sets[0])
        raise RecordingError(
            f"{odd[1]}: its units differ from those of {sessions[0][1]}; record the same units in every "
            f"session, or pass --common-units to keep only the {len(common)} unit(s) present in all")
    unit_ids = np.array(sorted(common))
    stimuli = {s[3].shape[1] for s in sessions}
    if len(stimuli) > 1:
        raise RecordingError(f"{names}: the number of stimuli differs between sessions ({sorted(stimuli)}); "
                             f"show the same probe stimuli in every session")
    responses = np.stack([values[[list(ids).index(u) for u in unit_ids]].T for _, _, ids, values, _ in sessions])
    start = sessions[0][0]
    times = np.array([(s[0] - start).total_seconds() / 86_400 for s in sessions])
    first_areas = sessions[0][4]
    if area is None and first_areas is not None:
        lookup = dict(zip(sessions[0][2].tolist(), first_areas, strict=True))
        areas = np.array([lookup[u] for u in unit_ids])
    else:
        areas = np.full(len(unit_ids), area or "area")
    return Recording(responses=responses, session_times=times, unit_ids=unit_ids, unit_areas=areas,
                     stimulus_ids=np.arange(responses.shape[1]), source=names, time_unit="days")


def write_example_nwb(directory: Path, responses: np.ndarray, session_days: Sequence[float],
                      unit_ids: Sequence[int] | None = None, area: str = "V1") -> list[Path]:
    """Write one NWB file per session in the layout `read_nwb` reads (an example maker)."""
    import datetime

    pynwb = _pynwb()
    directory.mkdir(parents=True, exist_ok=True)
    start = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)
    ids = list(unit_ids) if unit_ids is not None else list(range(responses.shape[2]))
    paths = []
    for session, day in enumerate(session_days):
        nwbfile = pynwb.NWBFile(
            session_description=f"learning session {session}",
            identifier=f"example-session-{session}",
            session_start_time=start + datetime.timedelta(days=float(day)),
        )
        nwbfile.add_unit_column(name=DEFAULT_COLUMN, description="mean response to each probe stimulus")
        nwbfile.add_unit_column(name="location", description="recorded area")
        for u, unit in enumerate(ids):
            nwbfile.add_unit(id=int(unit), stimulus_responses=responses[session, :, u], location=area)
        path = directory / f"session{session:02d}.nwb"
        with pynwb.NWBHDF5IO(str(path), "w") as io:
            io.write(nwbfile)
        paths.append(path)
    return paths
