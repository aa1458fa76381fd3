"""A recording: unit responses to a fixed set of stimuli at several sessions during learning.

Every reader (NWB, NumPy, CSV) produces a `Recording`; `check` refuses what would give
silent garbage downstream (one session, time running backwards, shapes that do not
agree) and applies the documented handling of units with missing values.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np


class RecordingError(ValueError):
    """A recording that cannot be turned into observables, and why."""


class RecordingWarning(UserWarning):
    """Something changed on the way in (units dropped), said out loud."""


@dataclass(frozen=True)
class Recording:
    """Responses (sessions, stimuli, units) of one animal, with times and identities."""

    responses: np.ndarray  # (sessions, stimuli, units) float64
    session_times: np.ndarray  # (sessions,) time of each session, e.g. days since the first
    unit_ids: np.ndarray  # (units,)
    unit_areas: np.ndarray  # (units,) area (layer) of each unit
    stimulus_ids: np.ndarray  # (stimuli,)
    source: str  # file name(s), for messages
    time_unit: str = "days"  # or "sessions": the times are session numbers (a CSV without time)
    notes: list[str] = field(default_factory=list)

    @property
    def n_sessions(self) -> int:
        return self.responses.shape[0]

    @property
    def areas(self) -> list[str]:
        return list(dict.fromkeys(str(a) for a in self.unit_areas))

    def area(self, name: str) -> Recording:
        """Only the units of one area."""
        keep = np.asarray([str(a) == name for a in self.unit_areas])
        return replace(self, responses=self.responses[:, :, keep], unit_ids=self.unit_ids[keep],
                       unit_areas=self.unit_areas[keep])


def check(recording: Recording, *, drop_nan_units: bool = True) -> Recording:
    """Validate a recording; drop units with missing values (with a warning) or refuse them.

    Raises RecordingError naming the file and the problem: fewer than two sessions,
    negative or non-increasing session times, shapes that do not agree, no units left.
    """
    source = recording.source
    r = np.asarray(recording.responses, dtype=np.float64)
    if r.ndim != 3:
        raise RecordingError(
            f"{source}: responses must be (sessions, stimuli, units), got shape {r.shape}")
    sessions, stimuli, units = r.shape
    times = np.asarray(recording.session_times, dtype=np.float64).reshape(-1)
    for name, values, expected in (("session_times", times, sessions),
                                   ("unit_ids", recording.unit_ids, units),
                                   ("unit_areas", recording.unit_areas, units),
                                   ("stimulus_ids", recording.stimulus_ids, stimuli)):
        if len(values) != expected:
            raise RecordingError(
                f"{source}: {name} has {len(values)} entries but the responses have {expected} "
                f"{'sessions' if name == 'session_times' else name.split('_')[0] + 's'}; "
                f"they must match (responses are sessions x stimuli x units)")
    if sessions < 2:
        raise RecordingError(
            f"{source}: only {sessions} session; a learning trajectory needs at least 2 sessions "
            f"(the decoder compares how statistics change between sessions)")
    if stimuli < 1 or units < 1:
        raise RecordingError(f"{source}: no stimuli or no units in the responses (shape {r.shape})")
    if not np.isfinite(times).all():
        raise RecordingError(f"{source}: session times must be finite numbers, got {times.tolist()}")
    if (times < 0).any():
        raise RecordingError(
            f"{source}: negative session time {times[times < 0][0]:g}; give times since the first "
            f"session (or any start), in {recording.time_unit}, all >= 0")
    if (np.diff(times) <= 0).any():
        i = int(np.flatnonzero(np.diff(times) <= 0)[0])
        raise RecordingError(
            f"{source}: session {i + 1} (time {times[i + 1]:g}) does not come after session {i} "
            f"(time {times[i]:g}); order sessions by time, each at a distinct time")
    if np.isinf(r).any():
        raise RecordingError(f"{source}: responses contain infinite values; fix or remove those units")
    notes = list(recording.notes)
    missing = np.isnan(r).any(axis=(0, 1))
    if missing.any():
        ids = [str(u) for u in np.asarray(recording.unit_ids)[missing]]
        shown = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
        if not drop_nan_units:
            raise RecordingError(
                f"{source}: {len(ids)} unit(s) have missing (NaN) responses: {shown}; remove them, "
                f"or let ingest drop them (the default)")
        if missing.all():
            raise RecordingError(f"{source}: every unit has a missing (NaN) response; nothing left to measure")
        message = (f"{source}: dropped {len(ids)} of {units} unit(s) with missing (NaN) responses in some "
                   f"session: {shown}")
        warnings.warn(message, RecordingWarning, stacklevel=2)
        notes.append(message)
        keep = ~missing
        r = r[:, :, keep]
        recording = replace(recording, unit_ids=np.asarray(recording.unit_ids)[keep],
                            unit_areas=np.asarray(recording.unit_areas)[keep])
    return replace(recording, responses=r, session_times=times, notes=notes)
