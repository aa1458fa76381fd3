"""One checkpoint's observables: every recorded layer under every measurement setting.

The network gives, per recorded layer, its kernel, its input and output on the probe set,
and its exact forward function; `observe` turns them into rows of the observables table
of format v1 (45 per layer and setting): `measure` computes the values and their labels,
`rows` puts them in a table. All settings are measured from the same probe pass: layer
inputs and outputs are computed once, then subsampled and noised per setting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

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


class Block(NamedTuple):
    """One (layer, setting, family) block of a checkpoint's rows: what its rows share."""

    layer: str
    layer_index: int
    layer_position: str
    setting: MeasurementSetting
    n_units: int
    n_units_total: int


@dataclass(frozen=True)
class RowLabels:
    """What identifies each value of a checkpoint's observables: everything in its row but the
    checkpoint, epoch and value. The same at every checkpoint of a run (same layers, same
    settings), so a run stores it once and only the values per checkpoint."""

    names: list[str]  # the observable, e.g. act.abs.median
    blocks: list[Block]
    counts: list[int]  # values per block

    def frame(self, run_id: str) -> pd.DataFrame:
        """The label columns of observables.parquet, in its column order (checkpoint, epoch and
        value are left out: `rows` puts them in place)."""

        def repeated(values: list, dtype: type) -> np.ndarray:
            return np.repeat(np.array(values, dtype=dtype), self.counts)

        parts = [_PARTS[name] for name in self.names]
        settings = [block.setting for block in self.blocks]
        return pd.DataFrame({
            "run_id": run_id,
            "layer": repeated([block.layer for block in self.blocks], object),
            "layer_index": repeated([block.layer_index for block in self.blocks], np.int64),
            "layer_position": repeated([block.layer_position for block in self.blocks], object),
            "measure": [measure for measure, _, _ in parts],
            "function": [function for _, function, _ in parts],
            "statistic": [statistic for _, _, statistic in parts],
            "measurement": repeated([s.label for s in settings], object),
            "n_units": repeated([block.n_units for block in self.blocks], np.int64),
            "n_units_total": repeated([block.n_units_total for block in self.blocks], np.int64),
            "noise_std": repeated([s.noise_std for s in settings], np.float64),
            "measurement_seed": repeated([s.seed for s in settings], np.int64),
        })


def measure(
    layers: Sequence[LayerSnapshot], settings: Sequence[MeasurementSetting], *, run_id: str, checkpoint: int
) -> tuple[RowLabels, np.ndarray]:
    """One checkpoint's observables (all layers, all settings): their labels and values."""
    labels = RowLabels([], [], [])
    values: list[float] = []
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
                labels.names.extend(family)
                values.extend(family.values())
                labels.blocks.append(Block(layer.name, layer.index, layer.position, setting, n_units, n_total))
                labels.counts.append(len(family))
    return labels, np.array(values, dtype=np.float64)


def rows(labels: pd.DataFrame, values: np.ndarray, *, checkpoint: int, epoch: float) -> pd.DataFrame:
    """Rows of observables.parquet: a `RowLabels.frame` with one checkpoint's values."""
    if len(values) != len(labels):
        raise ValueError(f"{len(values)} values for {len(labels)} labelled rows")
    frame = labels.copy()
    frame.insert(4, "checkpoint", checkpoint)
    frame.insert(5, "epoch", float(epoch))
    frame["value"] = np.asarray(values, dtype=np.float64)
    return frame


def observe(
    layers: Sequence[LayerSnapshot],
    settings: Sequence[MeasurementSetting],
    *,
    run_id: str,
    checkpoint: int,
    epoch: float,
) -> pd.DataFrame:
    """Rows of observables.parquet for one checkpoint (all layers, all settings)."""
    labels, values = measure(layers, settings, run_id=run_id, checkpoint=checkpoint)
    return rows(labels.frame(run_id), values, checkpoint=checkpoint, epoch=epoch)
