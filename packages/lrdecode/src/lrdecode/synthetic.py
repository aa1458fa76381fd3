"""A synthetic dataset with unit-level responses (units.parquet) and a known rule signal.

shared_schema.synthetic makes statistics directly; measurement limits applied after the fact
need the responses of individual units. Here each (run, layer) has fixed tuning
(stimuli x units, standard normal, like a fixed electrode on fixed cells); a rule scales the
tuning by (1 + gain_rule x t) and shifts it by shift_rule x t as training progresses
(t from 0 to 1), so the rule shows in the act statistics (mean, var, ...). Additive noise
of std sigma hides the shift once sigma / sqrt(units x stimuli) is well above ``signal``,
so accuracy must fall towards chance as noise grows and units shrink. observables.parquet
holds the 21 act statistics of all recorded units (the ideal instrument, ``measurement``
"all"), computed with shared_schema's reference statistics.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

import shared_schema as ss
from shared_schema.statistics import act_statistics


def synthetic_unit_dataset(
    *,
    rules: Sequence[str] = ("fa", "ia"),
    runs_per_rule: int = 6,
    n_layers: int = 3,
    n_checkpoints: int = 6,
    n_stimuli: int = 8,
    n_units: int = 12,
    signal: float = 1.0,
    seed: int = 0,
) -> ss.Dataset:
    """len(rules) x runs_per_rule runs of n_layers layers, n_units recorded units each."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, n_checkpoints)
    gain = rng.normal(scale=0.5 * signal, size=len(rules))
    shift = rng.normal(scale=signal, size=len(rules))
    names = ss.observable_names("act")
    positions = ss.layer_positions(n_layers)
    run_ids, observables, units = [], [], []
    stimulus, unit = np.meshgrid(np.arange(n_stimuli), np.arange(n_units), indexing="ij")
    for r, rule in enumerate(rules):
        for i in range(runs_per_rule):
            run_id = f"run{r * runs_per_rule + i:04d}_{rule}"
            run_ids.append((run_id, rule))
            for layer in range(n_layers):
                tuning = rng.normal(size=(n_stimuli, n_units)) + rng.normal(scale=0.3)
                for c in range(n_checkpoints):
                    responses = tuning * (1.0 + gain[r] * t[c]) + shift[r] * t[c] \
                        + rng.normal(scale=0.1, size=tuning.shape)
                    statistics = act_statistics(responses)
                    observables.append(pd.DataFrame({
                        "run_id": run_id, "layer": f"layer{layer}", "layer_index": layer,
                        "layer_position": positions[layer], "checkpoint": c, "epoch": float(c), "measure": "act",
                        "function": [n.split(".")[1] for n in names], "statistic": [n.split(".")[2] for n in names],
                        "measurement": "all", "n_units": n_units, "n_units_total": n_units, "noise_std": 0.0,
                        "measurement_seed": 0, "value": [statistics[n] for n in names]}))
                    units.append(pd.DataFrame({
                        "run_id": run_id, "layer": f"layer{layer}", "checkpoint": c, "epoch": float(c),
                        "measure": "act", "stimulus": stimulus.reshape(-1), "unit": unit.reshape(-1),
                        "n_units_total": n_units, "value": responses.reshape(-1)}))
    runs = pd.DataFrame({
        "run_id": [r for r, _ in run_ids], "source": "simulation", "learning_rule": [rule for _, rule in run_ids],
        "task": "task_a", "architecture": "net_a", "batch_size": pd.array([128] * len(run_ids), dtype="Int64"),
        "model_seed": pd.array([0] * len(run_ids), dtype="Int64"),
        "dataset_seed": pd.array([None] * len(run_ids), dtype="Int64"), "status": "complete", "status_detail": None,
        "hyperparameters": json.dumps({"synthetic_units": True, "seed": seed})})
    obs = pd.concat(observables, ignore_index=True)
    unit_table = pd.concat(units, ignore_index=True)
    for frame in (obs, unit_table):
        for column in ("run_id", "layer", "measure"):
            frame[column] = frame[column].astype("category")
    for column in ("layer_position", "function", "statistic", "measurement"):
        obs[column] = obs[column].astype("category")
    return ss.Dataset(runs=runs, observables=obs, units=unit_table)
