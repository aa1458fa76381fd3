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
from shared_schema import FULL, MeasurementSetting, Observable


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
                grad_observables(layer.forward, layer.inputs, n_outputs, setting, **where),
            )
            for values, n_units, n_total in families:
                for name, value in values.items():
                    observable = Observable.parse(name)
                    columns["layer"].append(layer.name)
                    columns["layer_index"].append(layer.index)
                    columns["layer_position"].append(layer.position)
                    columns["measure"].append(observable.measure)
                    columns["function"].append(observable.function)
                    columns["statistic"].append(observable.statistic)
                    columns["measurement"].append(setting.label)
                    columns["n_units"].append(n_units)
                    columns["n_units_total"].append(n_total)
                    columns["noise_std"].append(setting.noise_std)
                    columns["measurement_seed"].append(setting.seed)
                    columns["value"].append(value)
    frame = pd.DataFrame(columns)
    frame.insert(0, "run_id", run_id)
    frame.insert(4, "checkpoint", checkpoint)
    frame.insert(5, "epoch", float(epoch))
    return frame
