"""weight: the layer's kernel, every element one unit (synapses)."""

from __future__ import annotations

import numpy as np

from lrsim.observables.statistics import weight_statistics
from shared_schema import MeasurementSetting


def weight_observables(
    kernel: np.ndarray, setting: MeasurementSetting, *, run_id: str, layer: str, checkpoint: int
) -> tuple[dict[str, float], int, int]:
    """The 21 weight statistics under a setting, and (units measured, units in the kernel)."""
    flat = np.asarray(kernel).reshape(-1)
    total = flat.size
    if not setting.is_full:
        flat = setting.measure(flat, run_id=run_id, layer=layer, stream="weight", checkpoint=checkpoint)
    return weight_statistics(flat), flat.size, total
