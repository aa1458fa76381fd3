"""The unit-subsampling x noise heatmap (paper Fig. 5) at paper scale: its wall time.

Data: synthetic, 4 rules x 264 runs x 20 layers = 21,120 examples (the paper's dataset size),
21 checkpoints of the 24 statistics the original study found finite, each example measured
under the 6 x 5 grid of settings (units 1%, 5%, 10%, 25%, 50%, all x noise 0, 0.1, 0.5, 1, 2):
633,600 examples, 2.6 GB of trajectories in memory. A setting degrades the ideal trajectory
by independent Gaussian noise of std noise / sqrt(units measured / 100) per value, the
spread of a mean over the measured units (a stand-in for measuring again: the statistics
themselves are tested in shared_schema and tests/test_limits.py). The rule signal is weak
(0.1), as in benchmarks/test_bench_decode.py, so accuracy moves across the grid.

Timed: `lrdecode.analyses.units_noise` over the whole grid, every measure, 10 paper splits
per cell, the default forest selection: 30 x 4 x 10 = 1,200 forests on 15,840 training
examples each. Hours on a 2-core machine: run it on a quiet one. Environment knobs (defaults =
the paper scale): LRDECODE_BENCH_RUNS_PER_RULE (264), LRDECODE_BENCH_LIMITS_SPLITS (10),
LRDECODE_BENCH_MEASURES (weight,act,grad,all), LRDECODE_BENCH_CLASSIFIER (rf),
LRDECODE_BENCH_N_JOBS (1). A quick check that it runs:
LRDECODE_BENCH_RUNS_PER_RULE=4 LRDECODE_BENCH_LIMITS_SPLITS=2 LRDECODE_BENCH_MEASURES=act
LRDECODE_BENCH_CLASSIFIER=svm.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import shared_schema as ss
from lrdecode.analyses import units_noise
from lrdecode.data import LoadedData
from shared_schema.synthetic import synthetic_dataset

from .test_bench_decode import ADMISSIBLE

RUNS_PER_RULE = int(os.environ.get("LRDECODE_BENCH_RUNS_PER_RULE", "264"))
SPLITS = int(os.environ.get("LRDECODE_BENCH_LIMITS_SPLITS", "10"))
MEASURES = tuple(os.environ.get("LRDECODE_BENCH_MEASURES", "weight,act,grad,all").split(","))
CLASSIFIER = os.environ.get("LRDECODE_BENCH_CLASSIFIER", "rf")
N_JOBS = int(os.environ.get("LRDECODE_BENCH_N_JOBS", "1"))
UNITS = (0.01, 0.05, 0.1, 0.25, 0.5, None)
NOISE = (0.0, 0.1, 0.5, 1.0, 2.0)
SIGNAL = 0.1


def measured_under_settings(ideal: ss.Trajectories, seed: int = 0) -> ss.Trajectories:
    """Every example once per (units, noise) setting, degraded as the module docstring says."""
    rng = np.random.default_rng(seed)
    measures = ("weight", "act", "grad")
    measure_of_column = np.array([measures.index(ss.Observable.parse(o).measure) for o in ideal.observables])
    values, examples = [], []
    for units in UNITS:
        for noise in NOISE:
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


@pytest.fixture(scope="module")
def grid_data() -> LoadedData:
    ideal = synthetic_dataset(runs_per_rule=RUNS_PER_RULE, n_layers=20, n_checkpoints=21, observables=ADMISSIBLE,
                              signal=SIGNAL, seed=0).trajectories()
    return LoadedData(trajectories=measured_under_settings(ideal), sources=("synthetic",))


def test_units_by_noise_heatmap_of_every_measure(benchmark, grid_data: LoadedData):
    result = benchmark.pedantic(
        units_noise, args=(grid_data,),
        kwargs={"measures": MEASURES, "classifier": CLASSIFIER, "splits": ("paper",), "n_splits": SPLITS,
                "n_jobs": N_JOBS},
        rounds=1, iterations=1)
    summary = result.summary
    examples = len(grid_data.trajectories.examples) // (len(UNITS) * len(NOISE))
    benchmark.extra_info.update(
        examples_per_setting=examples, settings=len(UNITS) * len(NOISE), measures=list(MEASURES), splits=SPLITS,
        classifier=CLASSIFIER, n_jobs=N_JOBS,
        accuracy={f"{r.measure} {r.measurement}": round(r.accuracy_mean, 4) for r in summary.itertuples()})
    ideal = summary[summary["measurement"] == "all"].set_index("measure")["accuracy_mean"]
    worst = summary[summary["measurement"] == "units=0.01,noise=2"].set_index("measure")["accuracy_mean"]
    print(f"\nunits x noise heatmap, {examples:,} examples per setting x {len(UNITS) * len(NOISE)} settings, "
          f"{', '.join(MEASURES)}, {SPLITS} paper split(s), {CLASSIFIER}: {benchmark.stats.stats.median:.0f} s; "
          "ideal instrument " + ", ".join(f"{m} {a:.3f}" for m, a in ideal.items())
          + "; 1% of units with noise 2 " + ", ".join(f"{m} {a:.3f}" for m, a in worst.items()))
    assert len(summary) == len(UNITS) * len(NOISE) * len(MEASURES)
