"""NumPy recordings: one .npz per animal.

Arrays: ``responses`` (sessions x stimuli x units, required), ``session_times``
(sessions, required), and optionally ``unit_ids`` (units), ``unit_areas`` (units, text),
``stimulus_ids`` (stimuli). Read with allow_pickle=False: object arrays are refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lrdecode.recordings.recording import Recording, RecordingError


def read_npz(path: Path, *, area: str | None = None, time_unit: str = "days") -> Recording:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as error:
        raise RecordingError(f"{path.name}: cannot be read without pickle ({error}); save plain numeric "
                             f"and text arrays with numpy.savez") from None
    except OSError as error:
        raise RecordingError(f"{path.name}: not a readable .npz file ({error})") from None
    for key in ("responses", "session_times"):
        if key not in arrays:
            raise RecordingError(
                f"{path.name}: missing array '{key}' (it has {', '.join(arrays) or 'none'}); an .npz "
                f"recording needs responses (sessions x stimuli x units) and session_times (sessions)")
    responses = arrays["responses"]
    if responses.ndim != 3:
        raise RecordingError(f"{path.name}: 'responses' must be 3-D (sessions x stimuli x units), "
                             f"got shape {responses.shape}")
    if not np.issubdtype(responses.dtype, np.number):
        raise RecordingError(f"{path.name}: 'responses' must be numeric, got {responses.dtype}")
    _, stimuli, units = responses.shape
    unit_ids = arrays.get("unit_ids", np.arange(units))
    default_area = area or path.stem
    unit_areas = arrays.get("unit_areas", np.full(units, default_area))
    if area is not None and "unit_areas" in arrays:
        unit_areas = np.full(units, area)
    return Recording(
        responses=responses.astype(np.float64),
        session_times=arrays["session_times"],
        unit_ids=unit_ids,
        unit_areas=unit_areas.astype(str),
        stimulus_ids=arrays.get("stimulus_ids", np.arange(stimuli)),
        source=path.name,
        time_unit=time_unit,
    )
