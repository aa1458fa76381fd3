"""Unit-level recording: the responses of N fixed units per layer to every probe input.

Stored in units.parquet so that lrdecode can simulate other measurement limits later
(fewer units, more noise) with the shared_schema reference statistics. The N units are a
seeded draw (shared_schema's measurement model, stream ``act``), fixed for the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared_schema import MeasurementSetting


def unit_responses(
    outputs: np.ndarray, n_units: int, *, run_id: str, layer: str, checkpoint: int, epoch: float, seed: int = 0
) -> pd.DataFrame:
    """Long rows (stimulus x unit) of one layer's responses at one checkpoint."""
    rows = np.asarray(outputs).reshape(outputs.shape[0], -1)
    units = MeasurementSetting(units=n_units, seed=seed).unit_indices(
        rows.shape[1], run_id=run_id, layer=layer, stream="act")
    responses = rows[:, units]
    stimulus, unit = np.meshgrid(np.arange(rows.shape[0]), units, indexing="ij")
    return pd.DataFrame({
        "run_id": run_id,
        "layer": layer,
        "checkpoint": checkpoint,
        "epoch": float(epoch),
        "measure": "act",
        "stimulus": stimulus.reshape(-1),
        "unit": unit.reshape(-1),
        "n_units_total": rows.shape[1],
        "value": responses.reshape(-1).astype(np.float64),
    })
