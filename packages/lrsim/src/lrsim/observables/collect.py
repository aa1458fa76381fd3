"""One checkpoint's observables: every recorded layer under every measurement setting.

The network gives, per recorded layer, its kernel, its input and output on the probe set,
and its exact forward function; `observe` turns them into rows of the observables table
of format v1 (45 per layer and setting). All settings are measured from the same probe
pass: layer inputs and outputs are computed once, then subsampled and noised per setting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import tensorflow as tf

from lrsim.observables.act import act_observables
from lrsim.observables.grad import grad_observables
from lrsim.observables.weight import weight_observables
from shared_schema import FULL, OBSERVABLES, MeasurementSetting

_PARTS = {o.name: (o.measure, o.function, o.statistic) for o in OBSERVABLES}


@dataclass(frozen=True)
class LayerSnapshot:
    """What observables need of one recorded layer at one checkpoint."""

    name: str
    index: int
    position: str
    kernel: np.ndarray
    inputs: np.ndarray  # (probe examples, ...) the layer's input
    outputs: np.ndarray  # (probe examples, ...) the layer's output
    forward: Callable[[tf.Tensor], tf.Tensor]  # exact forward function, inputs -> outputs
    output_sums: np.ndarray | None = None  # d(sum of all outputs)/dx per example, if already computed


def with_full_setting(settings: Iterable[MeasurementSetting]) -> list[MeasurementSetting]:
    """The settings to collect: the ideal instrument first, then the others once each."""
    unique = {FULL.label: FULL}
    for setting in settings:
        unique.setdefault(setting.label, setting)
    return list(unique.values())


def observe(
    layers: Sequence[LayerSnapshot],
    settings: Sequence[MeasurementSetting],
    *,
    run_id: str,
    checkpoint: int,
    epoch: float,
) -> pd.DataFrame:
    """Rows of observables.parquet for one checkpoint (all layers, all settings)."""
    names: list[str] = []
    values: list[float] = []
    blocks: list[tuple[LayerSnapshot, MeasurementSetting, int, int]] = []  # one per (layer, setting, family)
    counts: list[int] = []
    for layer in layers:
        n_outputs = int(np.prod(layer.outputs.shape[1:]))
        where = {"run_id": run_id, "layer": layer.name, "checkpoint": checkpoint}
        for setting in settings:
            families = (
                weight_observables(layer.kernel, setting, **where),
                act_observables(layer.outputs, setting, **where),
                grad_observables(layer.forward, layer.inputs, n_outputs, setting, full_sums=layer.output_sums,
                                 **where),
            )
            for family, n_units, n_total in families:
                names.extend(family)
                values.extend(family.values())
                blocks.append((layer, setting, n_units, n_total))
                counts.append(len(family))

    def repeated(per_block: list, dtype: type) -> np.ndarray:
        return np.repeat(np.array(per_block, dtype=dtype), counts)

    parts = [_PARTS[name] for name in names]
    return pd.DataFrame({
        "run_id": run_id,
        "layer": repeated([layer.name for layer, *_ in blocks], object),
        "layer_index": repeated([layer.index for layer, *_ in blocks], np.int64),
        "layer_position": repeated([layer.position for layer, *_ in blocks], object),
        "checkpoint": checkpoint,
        "epoch": float(epoch),
        "measure": [measure for measure, _, _ in parts],
        "function": [function for _, function, _ in parts],
        "statistic": [statistic for _, _, statistic in parts],
        "measurement": repeated([setting.label for _, setting, *_ in blocks], object),
        "n_units": repeated([n_units for *_, n_units, _ in blocks], np.int64),
        "n_units_total": repeated([n_total for *_, n_total in blocks], np.int64),
        "noise_std": repeated([setting.noise_std for _, setting, *_ in blocks], np.float64),
        "measurement_seed": repeated([setting.seed for _, setting, *_ in blocks], np.int64),
        "value": np.array(values, dtype=np.float64),
    })
