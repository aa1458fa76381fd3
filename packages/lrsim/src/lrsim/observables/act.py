"""act: the layer's output on the probe set (post-synaptic rates), units flattened."""

from __future__ import annotations

import numpy as np

from lrsim.observables.statistics import act_statistics
from shared_schema import MeasurementSetting


def act_observables(
    outputs: np.ndarray, setting: MeasurementSetting, *, run_id: str, layer: str, checkpoint: int
) -> tuple[dict[str, float], int, int]:
    """The 21 act statistics under a setting, and (units measured, output units)."""
    rows = np.asarray(outputs).reshape(outputs.shape[0], -1)
    total = rows.shape[1]
    if not setting.is_full:
        rows = setting.measure(rows, run_id=run_id, layer=layer, stream="act", checkpoint=checkpoint)
    return act_statistics(rows), rows.shape[1], total
