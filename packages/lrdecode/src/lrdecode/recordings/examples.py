"""Small example recordings in each format, for documentation and tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lrdecode.recordings.nwb import write_example_nwb


def example_responses(sessions: int = 5, stimuli: int = 40, units: int = 60, seed: int = 0) -> np.ndarray:
    """Non-negative rates (sessions, stimuli, units) whose selectivity sharpens over sessions."""
    rng = np.random.default_rng(seed)
    tuning = rng.gamma(2.0, 1.0, size=(stimuli, units))
    baseline = rng.gamma(4.0, 0.5, size=units)
    growth = np.linspace(0.2, 1.0, sessions)[:, None, None]
    rates = baseline + growth * tuning + rng.normal(scale=0.1, size=(sessions, stimuli, units))
    return np.maximum(rates, 0.0)


def write_example(path: Path, format: str, *, sessions: int = 5, stimuli: int = 40, units: int = 60,
                  area: str = "V1", seed: int = 0) -> list[Path]:
    """Write an example recording (.npz, .csv, or a directory of .nwb files); returns the files."""
    responses = example_responses(sessions, stimuli, units, seed)
    days = np.arange(sessions, dtype=float) * 2.0
    if format == "nwb":
        return write_example_nwb(path, responses, days, area=area)
    path.parent.mkdir(parents=True, exist_ok=True)
    if format == "npz":
        np.savez(path, responses=responses, session_times=days, unit_ids=np.arange(units) + 100,
                 unit_areas=np.full(units, area))
        return [path]
    if format == "csv":
        s, k, u = np.meshgrid(np.arange(sessions), np.arange(stimuli), np.arange(units), indexing="ij")
        pd.DataFrame({"session": s.reshape(-1), "time": days[s.reshape(-1)], "stimulus": k.reshape(-1),
                      "unit": u.reshape(-1) + 100, "area": area, "response": responses.reshape(-1)}
                     ).to_csv(path, index=False)
        return [path]
    raise ValueError(f"unknown format {format!r}; use nwb, npz or csv")
