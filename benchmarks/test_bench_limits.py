"""The unit-subsampling x noise heatmap (paper Fig. 5): its wall time, and what choosing
hyperparameters once per split (at the ideal instrument) instead of in every cell changes.

Data: synthetic, FA vs IA (the paper's Fig. 5) x RUNS runs per rule x 20 layers, 21 checkpoints
of the 24 statistics the original study found finite, each example measured under the 6 x 5
grid of settings (units 1%, 5%, 10%, 25%, 50%, all x noise 0, 0.1, 0.5, 1, 2). A setting
degrades the ideal trajectory by independent Gaussian noise of std noise / sqrt(units measured
/ 100) per value, the spread of a mean over the measured units (a stand-in for measuring
again: the statistics themselves are tested in shared_schema and tests/test_limits.py). The
rule signal is weak (0.1), as in benchmarks/test_bench_decode.py, so accuracy moves across the
grid.

Timed: `lrdecode.analyses.units_noise` over the whole grid, every measure, 10 paper splits
per cell, the default forest selection once per measure and split at the ideal setting and a
refit in every other cell (1,200 forests), at three sizes (a scaling curve): runs per rule in
LRDECODE_BENCH_LIMITS_RUNS (default 6,12,24). 24 runs per rule is the paper's Fig. 5: FA and IA
networks of ResNet-18 on two tasks (ImageNet, SimCLR) x 3 batch sizes x 2 model seeds x 2
dataset seeds. The whole study's 264 runs per rule is not the heatmap's data: there one chosen
forest (1,000 trees on 7,920 examples) takes 38 s on 2 cores, and the heatmap fits 1,200 of them.
Other knobs: LRDECODE_BENCH_LIMITS_SPLITS (10), LRDECODE_BENCH_MEASURES (weight,act,grad,all),
LRDECODE_BENCH_CLASSIFIER (rf), LRDECODE_BENCH_N_JOBS (2).

Compared: the same heatmap with hyperparameters chosen in every cell (``select_at="each"``)
on a 3 x 3 part of the grid at the smallest size: the mean and largest difference in
accuracy per cell, and the time of each.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pandas as pd
import pytest

import shared_schema as ss
from lrdecode.analyses import units_noise
from lrdecode.io.data import LoadedData
from shared_schema.synthetic import synthetic_dataset

from .test_bench_decode import ADMISSIBLE

RUNS = tuple(int(n) for n in os.environ.get("LRDECODE_BENCH_LIMITS_RUNS", "6,12,24").split(","))
RULES = ("fa", "ia")
TARGET_SECONDS = 60 * 60
SPLITS = int(os.environ.get("LRDECODE_BENCH_LIMITS_SPLITS", "10"))
MEASURES = tuple(os.environ.get("LRDECODE_BENCH_MEASURES", "weight,act,grad,all").split(","))
CLASSIFIER = os.environ.get("LRDECODE_BENCH_CLASSIFIER", "rf")
N_JOBS = int(os.environ.get("LRDECODE_BENCH_N_JOBS", "2"))
UNITS = (0.01, 0.05, 0.1, 0.25, 0.5, None)
NOISE = (0.0, 0.1, 0.5, 1.0, 2.0)
SIGNAL = 0.1


def measured_under_settings(ideal: ss.Trajectories, units_grid: tuple = UNITS, noise_grid: tuple = NOISE,
                            seed: int = 0) -> ss.Trajectories:
    """Every example once per (units, noise) setting, degraded as the module docstring says."""
    rng = np.random.default_rng(seed)
    measures = ("weight", "act", "grad")
    measure_of_column = np.array([measures.index(ss.Observable.parse(o).measure) for o in ideal.observables])
    values, examples = [], []
    for units in units_grid:
        for noise in noise_grid:
            setting = ss.MeasurementSetting(units=units, noise_std=noise)
            part = ideal.examples.copy()
            part["measurement"] = setting.label
            part["noise_std"] = noise
            measured = np.ones((len(part), len(measures)))
            for m, measure in enumerate(measures):
                total = part[f"n_units_total_{measure}"].to_numpy(dtype=float, na_value=np.nan)
                counts = np.array([setting.n_measured(int(t)) if np.isfinite(t) else 0 for t in total])
                part[f"n_units_{measure}"] = pd.array(counts, dtype="Int64")
                measured[:, m] = np.maximum(counts, 1)
            scale = noise / np.sqrt(measured / 100.0)  # (examples, measures)
            values.append(ideal.values + rng.normal(size=ideal.values.shape) * scale[:, None, measure_of_column])
            examples.append(part)
    stacked = np.concatenate(values)
    return ss.Trajectories(values=stacked, lengths=np.full(stacked.shape[::2], stacked.shape[1]),
                           epochs=np.concatenate([ideal.epochs] * len(values)),
                           examples=pd.concat(examples, ignore_index=True), observables=ideal.observables)


def grid_data(runs_per_rule: int, units_grid: tuple = UNITS, noise_grid: tuple = NOISE) -> LoadedData:
    ideal = synthetic_dataset(rules=RULES, runs_per_rule=runs_per_rule, n_layers=20, n_checkpoints=21,
                              observables=ADMISSIBLE, signal=SIGNAL, seed=0).trajectories()
    return LoadedData(trajectories=measured_under_settings(ideal, units_grid, noise_grid), sources=("synthetic",))


def heatmap(data: LoadedData, select_at: str = "reference"):
    return units_noise(data, measures=MEASURES, classifier=CLASSIFIER, splits=("paper",), n_splits=SPLITS,
                       n_jobs=N_JOBS, select_at=select_at)


@pytest.mark.parametrize("runs_per_rule", RUNS)
def test_units_by_noise_heatmap_of_every_measure(benchmark, runs_per_rule: int):
    data = grid_data(runs_per_rule)
    result = benchmark.pedantic(heatmap, args=(data,), rounds=1, iterations=1)
    summary = result.summary
    examples = len(data.trajectories.examples) // (len(UNITS) * len(NOISE))
    seconds = benchmark.stats.stats.median
    benchmark.extra_info.update(
        runs_per_rule=runs_per_rule, rules=list(RULES), examples_per_setting=examples,
        settings=len(UNITS) * len(NOISE), measures=list(MEASURES), splits=SPLITS, classifier=CLASSIFIER,
        n_jobs=N_JOBS, seconds=round(seconds),
        accuracy={f"{r.measure} {r.measurement}": round(r.accuracy_mean, 4) for r in summary.itertuples()})
    ideal = summary[summary["measurement"] == "all"].set_index("measure")["accuracy_mean"]
    worst = summary[summary["measurement"] == "units=0.01,noise=2"].set_index("measure")["accuracy_mean"]
    print(f"\nunits x noise heatmap, FA vs IA, {runs_per_rule} runs per rule ({examples:,} examples per setting) x "
          f"{len(UNITS) * len(NOISE)} settings, {', '.join(MEASURES)}, {SPLITS} paper split(s), {CLASSIFIER}: "
          f"{seconds:.0f} s; ideal instrument " + ", ".join(f"{m} {a:.3f}" for m, a in ideal.items())
          + "; 1% of units with noise 2 " + ", ".join(f"{m} {a:.3f}" for m, a in worst.items()))
    assert len(summary) == len(UNITS) * len(NOISE) * len(MEASURES)
    assert seconds <= TARGET_SECONDS


def test_choosing_hyperparameters_once_per_split_against_in_every_cell(benchmark):
    data = grid_data(min(RUNS), units_grid=(0.05, 0.25, None), noise_grid=(0.0, 0.5, 2.0))
    measured = {}

    def both() -> None:
        for select_at in ("reference", "each"):
            start = time.perf_counter()
            measured[select_at] = heatmap(data, select_at).summary.set_index(["measure", "measurement"])
            measured[f"{select_at}_seconds"] = time.perf_counter() - start

    benchmark.pedantic(both, rounds=1, iterations=1)
    difference = (measured["reference"]["accuracy_mean"] - measured["each"]["accuracy_mean"]) * 100
    sem = measured["each"]["accuracy_sem"] * 100
    benchmark.extra_info.update(
        runs_per_rule=min(RUNS), cells=len(difference), reference_seconds=round(measured["reference_seconds"]),
        each_seconds=round(measured["each_seconds"]), mean_points=round(float(difference.mean()), 2),
        mean_abs_points=round(float(difference.abs().mean()), 2),
        max_abs_points=round(float(difference.abs().max()), 2), median_sem_points=round(float(sem.median()), 2))
    print(f"\n3 x 3 settings x {len(MEASURES)} measures, {min(RUNS)} runs per rule, {SPLITS} splits: chosen once per "
          f"split {measured['reference_seconds']:.0f} s, in every cell {measured['each_seconds']:.0f} s; accuracy "
          f"difference per cell (once - every) mean {difference.mean():+.2f} points, mean |.| "
          f"{difference.abs().mean():.2f}, largest |.| {difference.abs().max():.2f} (median s.e.m. of a cell "
          f"{sem.median():.2f})")
    assert len(difference) == 9 * len(MEASURES)
