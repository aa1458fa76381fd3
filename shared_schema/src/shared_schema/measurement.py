"""The simulated instrument: seeded unit subsampling plus additive Gaussian noise.

A measurement setting (units, noise_std, seed) says how many units are measured and how
noisy each measured value is. The rules, shared by lrsim (at collection time) and lrdecode
(after the fact, on unit-level recordings):

- Units are a random subset drawn once per (seed, run, layer, stream) and kept for every
  checkpoint, as an electrode or imaging field stays on the same cells. Streams are
  ``weight`` (kernel elements), ``act`` (output units), ``grad_in`` and ``grad_out`` (a
  layer's input and output units for the activity change; separate draws).
- ``units`` is a count (int >= 1, capped at the population) or a fraction in (0, 1]
  (ceil(fraction x population), at least one unit); None means all units.
- Noise is drawn afresh for every checkpoint: independent N(0, noise_std^2) added to each
  measured value (each kernel element, each unit's response to each probe example, and
  each input unit's summed derivative for grad).
- grad under a setting: g = (1/|S_out|) sum_{i in S_in} (sum_{j in S_out} dy_j/dx_i + e_i),
  with S_out and S_in drawn from the same setting on the output and input populations.
- Recorded ``n_units`` is the number of measured units: kernel elements for weight, output
  units for act and grad.

Every draw comes from numpy's PCG64 seeded by a SeedSequence of integers derived from the
setting's seed, CRC-32 of the run id and layer name, the stream and the checkpoint, so any
implementation can reproduce the same units.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from shared_schema.statistics import (
    act_statistics,
    grad_statistics,
    weight_statistics,
)

STREAMS: dict[str, int] = {"weight": 0, "act": 1, "grad_in": 2, "grad_out": 3}
_PURPOSE_UNITS = 0
_PURPOSE_NOISE = 1
_ITEM = re.compile(r"^\s*(units|noise|seed)\s*=\s*([^\s,]+)\s*$")


@dataclass(frozen=True)
class MeasurementSetting:
    """How one simulated instrument measures a layer: which units, how noisy."""

    units: int | float | None = None
    noise_std: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        units = self.units
        if isinstance(units, bool):
            raise ValueError("units must be a count, a fraction or None, not a boolean")
        if isinstance(units, float) and not 0.0 < units <= 1.0:
            raise ValueError(f"a unit fraction must be in (0, 1], got {units}")
        if isinstance(units, int) and units < 1:
            raise ValueError(f"a unit count must be at least 1, got {units}")
        if not (math.isfinite(self.noise_std) and self.noise_std >= 0):
            raise ValueError(f"noise std must be a finite number >= 0, got {self.noise_std}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"measurement seed must be an integer >= 0, got {self.seed!r}")

    @classmethod
    def parse(cls, text: str) -> MeasurementSetting:
        """Parse ``"units=0.1,noise=0.5,seed=3"``, ``"units=200"`` or ``"all"``.

        A unit value with a decimal point is a fraction (``units=1.0`` is all units);
        an integer is a count (``units=1`` is one unit).
        """
        text = text.strip()
        if text in ("", "all"):
            return cls()
        values: dict[str, str] = {}
        for item in text.split(","):
            match = _ITEM.match(item)
            if not match:
                raise ValueError(
                    f"cannot read measurement setting {text!r}: each item must be units=N, "
                    f"units=FRACTION, noise=STD or seed=N, e.g. 'units=0.1,noise=0.5'"
                )
            if match.group(1) in values:
                raise ValueError(f"measurement setting {text!r} names {match.group(1)} twice")
            values[match.group(1)] = match.group(2)
        try:
            units_text = values.get("units")
            if units_text is None or units_text == "all":
                units: int | float | None = None
            elif re.fullmatch(r"\d+", units_text):
                units = int(units_text)
            else:
                units = float(units_text)
                units = None if units == 1.0 else units
            noise = float(values.get("noise", "0"))
            seed = int(values.get("seed", "0"))
        except ValueError as error:
            raise ValueError(f"cannot read measurement setting {text!r}: {error}") from None
        return cls(units=units, noise_std=noise, seed=seed)

    @property
    def is_full(self) -> bool:
        """True for the ideal instrument: every unit, no noise."""
        return self.units is None and self.noise_std == 0.0

    @property
    def label(self) -> str:
        """Canonical text form, the ``measurement`` column of the format (``all`` if ideal)."""
        items = []
        if self.units is not None:
            items.append(f"units={self.units:g}" if isinstance(self.units, float)
                         else f"units={self.units}")
        if self.noise_std:
            items.append(f"noise={self.noise_std:g}")
        if self.seed:
            items.append(f"seed={self.seed}")
        return ",".join(items) or "all"

    def n_measured(self, n_total: int) -> int:
        """How many of a population of n_total units this setting measures."""
        if n_total < 1:
            raise ValueError("a population needs at least one unit")
        if self.units is None:
            return n_total
        if isinstance(self.units, float):
            return max(1, min(n_total, math.ceil(self.units * n_total)))
        return min(self.units, n_total)

    def _rng(self, run_id: str, layer: str, stream: str, purpose: int, checkpoint: int) -> np.random.Generator:
        if stream not in STREAMS:
            raise ValueError(f"unknown stream {stream!r}; expected one of {', '.join(STREAMS)}")
        entropy = [
            self.seed,
            zlib.crc32(run_id.encode()),
            zlib.crc32(layer.encode()),
            STREAMS[stream],
            purpose,
            checkpoint,
        ]
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))

    def unit_indices(self, n_total: int, *, run_id: str, layer: str, stream: str) -> np.ndarray:
        """Sorted indices of the measured units of a population (the same at every checkpoint)."""
        n = self.n_measured(n_total)
        if n == n_total:
            return np.arange(n_total)
        rng = self._rng(run_id, layer, stream, _PURPOSE_UNITS, 0)
        return np.sort(rng.choice(n_total, size=n, replace=False))

    def noise(
        self, shape: tuple[int, ...], *, run_id: str, layer: str, stream: str, checkpoint: int
    ) -> np.ndarray | None:
        """The additive noise for one checkpoint's measured values, or None without noise."""
        if self.noise_std == 0.0:
            return None
        rng = self._rng(run_id, layer, stream, _PURPOSE_NOISE, checkpoint)
        return rng.normal(0.0, self.noise_std, size=shape)

    def measure(
        self,
        values: ArrayLike,
        *,
        run_id: str,
        layer: str,
        stream: str,
        checkpoint: int,
    ) -> np.ndarray:
        """Measured values: units on the last axis are subsampled, then noise is added."""
        x = np.asarray(values, dtype=np.float64)
        if self.n_measured(x.shape[-1]) < x.shape[-1]:
            x = x[..., self.unit_indices(x.shape[-1], run_id=run_id, layer=layer, stream=stream)]
        eps = self.noise(x.shape, run_id=run_id, layer=layer, stream=stream, checkpoint=checkpoint)
        return x if eps is None else x + eps


FULL = MeasurementSetting()


def measured_activity_change(
    output_sums: ArrayLike,
    n_outputs_measured: int,
    setting: MeasurementSetting,
    *,
    run_id: str,
    layer: str,
    checkpoint: int,
) -> np.ndarray:
    """g per example from d(sum of measured outputs)/dx_i, shape (examples, input units).

    The caller sums the Jacobian over the measured output units (S_out, stream
    ``grad_out``); this applies the input subset, the noise and the 1/|S_out| scaling.
    """
    j = np.asarray(output_sums, dtype=np.float64)
    j = j.reshape(j.shape[0], -1)
    measured = setting.measure(j, run_id=run_id, layer=layer, stream="grad_in", checkpoint=checkpoint)
    return measured.sum(axis=1) / n_outputs_measured


def layer_statistics(
    setting: MeasurementSetting = FULL,
    *,
    run_id: str,
    layer: str,
    checkpoint: int,
    kernel: ArrayLike | None = None,
    responses: ArrayLike | None = None,
    jacobian: ArrayLike | None = None,
) -> dict[str, float]:
    """Every statistic of one layer at one checkpoint under a measurement setting.

    kernel: any shape (every element a unit). responses: (probe examples, units...).
    jacobian: (probe examples, outputs, inputs), the full dy/dx (small layers, tests).
    Returns canonical name -> value for the measures given.
    """
    where = {"run_id": run_id, "layer": layer, "checkpoint": checkpoint}
    result: dict[str, float] = {}
    if kernel is not None:
        flat = np.asarray(kernel, dtype=np.float64).reshape(-1)
        result |= weight_statistics(setting.measure(flat, stream="weight", **where))
    if responses is not None:
        x = np.asarray(responses, dtype=np.float64)
        x = x.reshape(x.shape[0], -1)
        result |= act_statistics(setting.measure(x, stream="act", **where))
    if jacobian is not None:
        j = np.asarray(jacobian, dtype=np.float64)
        outputs = setting.unit_indices(j.shape[1], run_id=run_id, layer=layer, stream="grad_out")
        sums = (j if outputs.size == j.shape[1] else j[:, outputs, :]).sum(axis=1)
        result |= grad_statistics(measured_activity_change(sums, outputs.size, setting, **where))
    return result
