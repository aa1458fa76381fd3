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
    columns: dict[str, list] = {name: [] for name in (
        "layer", "layer_index", "layer_position", "measure", "function", "statistic", "measurement",
        "n_units", "n_units_total", "noise_std", "measurement_seed", "value")}
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
            for values, n_units, n_total in families:
                count = len(values)
                for name, value in values.items():
                    measure, function, statistic = _PARTS[name]
                    columns["measure"].append(measure)
                    columns["function"].append(function)
                    columns["statistic"].append(statistic)
                    columns["value"].append(value)
                for key, constant in (("layer", layer.name), ("layer_index", layer.index),
                                      ("layer_position", layer.position), ("measurement", setting.label),
                                      ("n_units", n_units), ("n_units_total", n_total),
                                      ("noise_std", setting.noise_std), ("measurement_seed", setting.seed)):
                    columns[key].extend([constant] * count)
    frame = pd.DataFrame(columns)
    frame.insert(0, "run_id", run_id)
    frame.insert(4, "checkpoint", checkpoint)
    frame.insert(5, "epoch", float(epoch))
    return frame
