"""Synthetic datasets with a known rule signal, for tests and benchmarks.

Each observable follows a smooth random trajectory; each run adds its own offset (so the
layers of one network are correlated, as in real sweeps), each layer its own, and a
learning rule shifts the informative observables by ``signal`` x a rule-specific pattern
that grows over training from ``signal_from`` (a fraction of the trajectory) onwards.
With ``signal=0`` the rule leaves no trace and decoding must sit at chance.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from shared_schema.dataset import Dataset
from shared_schema.names import OBSERVABLE_NAMES, Observable, layer_positions

RULES = ("sgdm", "adam", "fa", "ia")


def synthetic_dataset(
    *,
    rules: Sequence[str] = RULES,
    runs_per_rule: int = 6,
    n_layers: int = 4,
    n_checkpoints: int = 21,
    observables: Sequence[str] | None = None,
    informative: Sequence[str] | None = None,
    signal: float = 1.0,
    signal_from: float = 0.0,
    architectures: Sequence[str] = ("net_a", "net_b"),
    tasks: Sequence[str] = ("task_a",),
    batch_sizes: Sequence[int] = (128, 256, 512),
    measurements: Sequence[str] = ("all",),
    nonfinite: Sequence[str] = (),
    seed: int = 0,
) -> Dataset:
    """A dataset of len(rules) x runs_per_rule runs with n_layers layers each.

    informative: observables that carry the rule (default: all). nonfinite: observables
    set to NaN in a third of the examples (like skew/kurtosis of dead ReLU layers).
    """
    rng = np.random.default_rng(seed)
    names = [Observable.parse(o).name for o in (observables or OBSERVABLE_NAMES)]
    informative_names = {Observable.parse(o).name for o in (informative or names)}
    n_obs, k = len(names), n_checkpoints
    n_runs = len(rules) * runs_per_rule
    n_meas = len(measurements)
    t = np.linspace(0.0, 1.0, k)

    coefficients = rng.normal(size=(3, n_obs))
    base = coefficients[0] + np.outer(t, coefficients[1]) + np.outer(t**2, coefficients[2])  # (k, obs)
    pattern = rng.normal(size=(len(rules), n_obs)) * np.array([n in informative_names for n in names])
    ramp = np.clip((t - signal_from) / max(1.0 - signal_from, 1e-9), 0.0, None)
    rule_of_run = np.repeat(np.arange(len(rules)), runs_per_rule)
    run_offset = rng.normal(scale=0.5, size=(n_runs, 1, 1, 1, n_obs))
    layer_offset = rng.normal(scale=0.3, size=(1, n_layers, 1, 1, n_obs)) + \
        rng.normal(scale=0.2, size=(n_runs, n_layers, 1, 1, n_obs))
    effect = signal * pattern[rule_of_run][:, None, None, None, :] * ramp[None, None, None, :, None]
    values = (base[None, None, None] + run_offset + layer_offset + effect
              + rng.normal(scale=0.3, size=(n_runs, n_layers, n_meas, k, n_obs)))
    nonfinite_columns = [names.index(Observable.parse(o).name) for o in nonfinite]
    if nonfinite_columns:
        dead = rng.random((n_runs, n_layers)) < 1 / 3
        for column in nonfinite_columns:
            values[..., column][dead] = np.nan

    run_ids = [f"run{i:04d}_{rules[rule_of_run[i]]}" for i in range(n_runs)]
    runs = pd.DataFrame({
        "run_id": run_ids,
        "source": "simulation",
        "learning_rule": [rules[r] for r in rule_of_run],
        "task": [tasks[i % len(tasks)] for i in range(n_runs)],
        "architecture": [architectures[(i // len(tasks)) % len(architectures)] for i in range(n_runs)],
        "batch_size": pd.array([batch_sizes[(i // 2) % len(batch_sizes)] for i in range(n_runs)], dtype="Int64"),
        "model_seed": pd.array([None if i % 2 else 0 for i in range(n_runs)], dtype="Int64"),
        "dataset_seed": pd.array([0 if (i // 3) % 2 else None for i in range(n_runs)], dtype="Int64"),
        "status": "complete",
        "status_detail": None,
        "hyperparameters": json.dumps({"synthetic": True, "seed": seed}),
    })

    shape = (n_runs, n_layers, n_meas, k, n_obs)
    r, layer, m, c, o = (a.reshape(-1) for a in np.indices(shape, dtype=np.int32))
    observable = [Observable.parse(n) for n in names]
    units_by_measure = {"weight": 1000, "act": 500, "grad": 500}
    n_total = np.array([units_by_measure[x.measure] for x in observable])[o] * (layer + 1)
    setting_fraction = np.array([1.0 if s == "all" else 0.5 for s in measurements])[m]
    positions = np.array(layer_positions(n_layers))
    frame = pd.DataFrame({
        "run_id": pd.Categorical.from_codes(r, run_ids),
        "layer": pd.Categorical.from_codes(layer, [f"layer{i}" for i in range(n_layers)]),
        "layer_index": layer.astype(np.int64),
        "layer_position": pd.Categorical(positions[layer]),
        "checkpoint": c.astype(np.int64),
        "epoch": t[c] * (k - 1),
        "measure": pd.Categorical([x.measure for x in observable])[o],
        "function": pd.Categorical([x.function for x in observable])[o],
        "statistic": pd.Categorical([x.statistic for x in observable])[o],
        "measurement": pd.Categorical.from_codes(m, list(measurements)),
        "n_units": np.ceil(n_total * setting_fraction).astype(np.int64),
        "n_units_total": n_total.astype(np.int64),
        "noise_std": np.zeros(len(r)),
        "measurement_seed": np.zeros(len(r), dtype=np.int64),
        "value": values.reshape(-1),
    })
    return Dataset(runs=runs, observables=frame)
