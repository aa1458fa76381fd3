"""Decoding at paper scale: the default model selection against the original exhaustive grid.

Data: synthetic, 4 rules x 264 runs x 20 layers, 21 checkpoints of the 24 statistics the
original study found finite (its ADMISSIBLE set), so 21,120 examples x (24 x 21 + 3) = 507
features, as in the paper. The rule signal is weak (0.1) so that accuracy is below ceiling and
the comparison means something.

Measured in one run, on the same data and the same paper split(s):
- the paper's Fig. 2a decode as a user runs it: ``lrdecode evaluate DATA -c rf -m all --split
  paper --splits 10 -j 2`` on the dataset written to disk, in its own process: wall time
  (target <= 20 min on the 2-core development machine), peak memory (target <= 4 GB), and
  that it reports progress while its output is a pipe;
- for the random forest and the linear SVM, on one paper split: the default selection's time
  over the time of one fit of the model it chose, on the same training examples (target <= 3x,
  a ratio that holds on any machine);
- for the random forest and the linear SVM, the default selection against ``--exhaustive``
  (GridSearchCV over the original grid, 5-fold inner CV): wall-time ratio (target >= 10x) and
  accuracy lost (target <= 1 point);
- the full ``evaluate`` of the paper's figure: rf, svm and conv1d, 10 splits, default selection.

The exhaustive forest grid costs 15 grid points x 5 folds (16,700 trees per split, a third of
them considering all 507 features per split): hours per split on a 2-core machine. So the
comparison runs on LRDECODE_BENCH_SPLITS splits (default 1), the same number for both methods;
nothing is extrapolated. Environment knobs (documented defaults = the paper scale):
LRDECODE_BENCH_RUNS_PER_RULE (264), LRDECODE_BENCH_SPLITS (1), LRDECODE_BENCH_EVALUATE_SPLITS (10),
LRDECODE_BENCH_N_JOBS (2).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from lrdecode.analyses import evaluate_measures
from lrdecode.classifiers import get_classifier
from lrdecode.decoding.features import FeatureSet, build_features
from lrdecode.decoding.model_selection import make_pipeline, select_model
from lrdecode.decoding.protocol import ProtocolRun, evaluate
from lrdecode.decoding.splits import make_splits
from lrdecode.io.data import LoadedData
from shared_schema import from_legacy
from shared_schema.synthetic import synthetic_dataset

TARGET_SPEEDUP = 10.0
TARGET_POINTS_LOST = 1.0
RUNS_PER_RULE = int(os.environ.get("LRDECODE_BENCH_RUNS_PER_RULE", "264"))
SPLITS = int(os.environ.get("LRDECODE_BENCH_SPLITS", "1"))
EVALUATE_SPLITS = int(os.environ.get("LRDECODE_BENCH_EVALUATE_SPLITS", "10"))
N_JOBS = int(os.environ.get("LRDECODE_BENCH_N_JOBS", "2"))
TARGET_EVALUATE_SECONDS = 20 * 60
TARGET_PEAK_BYTES = 4 * 1024**3
TARGET_FITS_PER_SELECTION = 3.0
SIGNAL = 0.1

# The original study's ADMISSIBLE_OBS['all'] (observable_names.py): finite in every network.
ADMISSIBLE = tuple(from_legacy(name) for name in (
    "weightabs_mean", "weightabs_median", "weightabs_norm", "weightabs_thirdquartile", "weightabs_var",
    "weightraw_mean", "weightraw_median", "weightraw_norm", "weightraw_thirdquartile", "weightraw_var",
    "weightsq_mean", "weightsq_median", "weightsq_thirdquartile",
    "actabs_mean", "actabs_median", "actabs_norm", "actabs_thirdquartile",
    "actraw_mean", "actraw_median", "actraw_norm", "actraw_thirdquartile",
    "gradavgabs_id", "gradavgraw_id", "gradavgsq_id",
))


def paper_scale_dataset():
    return synthetic_dataset(runs_per_rule=RUNS_PER_RULE, n_layers=20, n_checkpoints=21, observables=ADMISSIBLE,
                             signal=SIGNAL, seed=0)


@pytest.fixture(scope="module")
def paper_scale() -> LoadedData:
    return LoadedData(trajectories=paper_scale_dataset().trajectories(), sources=("synthetic",))


@pytest.fixture(scope="module")
def features(paper_scale: LoadedData) -> FeatureSet:
    features = build_features(paper_scale.trajectories)
    if RUNS_PER_RULE == 264:
        assert features.X.shape == (21_120, 507)
    return features


def timed(**kwargs: object) -> tuple[ProtocolRun, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run = evaluate(**kwargs)
    return run, time.perf_counter() - wall, time.process_time() - cpu


def test_paper_figure_2a_decode_with_ten_splits_as_a_user_runs_it(benchmark, tmp_path: Path):
    data = paper_scale_dataset().write(tmp_path / "paper-scale")
    command = [sys.executable, "-m", "lrdecode", "evaluate", str(data), "-c", "rf", "-m", "all", "--split", "paper",
               "--splits", str(EVALUATE_SPLITS), "-j", str(N_JOBS), "--out", str(tmp_path / "results")]
    finished: dict[str, subprocess.CompletedProcess] = {}

    def run() -> None:
        finished["run"] = subprocess.run(command, capture_output=True, text=True, check=False)

    benchmark.pedantic(run, rounds=1, iterations=1)
    done = finished["run"]
    assert done.returncode == 0, done.stderr[-3000:]
    seconds = benchmark.stats.stats.median
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux: kilobytes
    progress = [line for line in done.stderr.splitlines() if line.startswith("progress:")]
    accuracy = next(line for line in done.stdout.splitlines() if " all " in f" {line} " and " rf " in line)
    benchmark.extra_info.update(command=" ".join(command[1:]), seconds=round(seconds), peak_bytes=peak,
                                progress_lines=len(progress), summary=accuracy.strip())
    print(f"\n{' '.join(command[2:])}: {seconds:.0f} s, peak memory {peak / 1024**3:.2f} GB, "
          f"{len(progress)} progress lines on a pipe; {accuracy.strip()}")
    assert len(progress) >= seconds // 10 - 2  # a line every ~10 s
    assert seconds <= TARGET_EVALUATE_SECONDS
    assert peak <= TARGET_PEAK_BYTES


@pytest.mark.parametrize("classifier", ["rf", "svm"])
def test_selection_costs_a_few_fits_of_the_model_it_chooses(benchmark, features: FeatureSet, classifier: str):
    labels = features.labels.astype(str)
    split = make_splits("paper", labels, features.groups, n_splits=1, seed=0)[0]
    X, y = features.X[split.train], labels[split.train]
    spec = get_classifier(classifier)
    measured = {}

    def both() -> None:
        start = time.perf_counter()
        measured["selection"] = select_model(spec, X, y, layout=features.layout, random_state=0, n_jobs=N_JOBS)
        measured["selection_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        model = make_pipeline(spec, features.layout, 0, N_JOBS, **measured["selection"].params).fit(X, y)
        measured["fit_seconds"] = time.perf_counter() - start
        measured["test_accuracy"] = float(np.mean(model.predict(features.X[split.test]) == labels[split.test]))

    benchmark.pedantic(both, rounds=1, iterations=1)
    ratio = measured["selection_seconds"] / measured["fit_seconds"]
    benchmark.extra_info.update(examples=len(y), selection_seconds=round(measured["selection_seconds"], 1),
                                fit_seconds=round(measured["fit_seconds"], 1), ratio=round(ratio, 2),
                                params=measured["selection"].params, test_accuracy=round(measured["test_accuracy"], 4))
    print(f"\n{classifier}, {len(y):,} training examples x {X.shape[1]}: selection "
          f"{measured['selection_seconds']:.1f} s ({measured['selection'].params}), one fit of it "
          f"{measured['fit_seconds']:.1f} s: {ratio:.2f}x; test accuracy {measured['test_accuracy']:.4f}")
    assert ratio <= TARGET_FITS_PER_SELECTION


@pytest.mark.parametrize("classifier", ["rf", "svm"])
def test_default_selection_against_the_exhaustive_grid(benchmark, features: FeatureSet, classifier: str):
    settings = {"features": features, "classifier": classifier, "split": "paper", "n_splits": SPLITS, "seed": 0,
                "n_jobs": N_JOBS}
    measured = {}

    def both() -> None:
        measured["default"] = timed(**settings)
        measured["exhaustive"] = timed(**settings, exhaustive=True)

    benchmark.pedantic(both, rounds=1, iterations=1)
    (fast, fast_wall, fast_cpu), (full, full_wall, full_cpu) = measured["default"], measured["exhaustive"]
    speedup, cpu_speedup = full_wall / fast_wall, full_cpu / fast_cpu
    lost = 100 * (full.accuracy[0] - fast.accuracy[0])
    benchmark.extra_info.update(
        examples=len(features), features=features.layout.n_features, splits=SPLITS, n_jobs=N_JOBS,
        default_seconds=round(fast_wall, 1), exhaustive_seconds=round(full_wall, 1), speedup=round(speedup, 1),
        cpu_speedup=round(cpu_speedup, 1), default_accuracy=round(fast.accuracy[0], 4),
        exhaustive_accuracy=round(full.accuracy[0], 4), points_lost=round(lost, 2),
        default_params=[o.selection.params for o in fast.outcomes],
        exhaustive_params=[o.selection.params for o in full.outcomes],
    )
    print(f"\n{classifier}, {len(features):,} x {features.layout.n_features}, {SPLITS} split(s): default "
          f"{fast_wall:.0f} s (cpu {fast_cpu:.0f} s), accuracy {fast.accuracy[0]:.4f}, "
          f"{[o.selection.params for o in fast.outcomes]}; exhaustive {full_wall:.0f} s (cpu {full_cpu:.0f} s), "
          f"accuracy {full.accuracy[0]:.4f}, {[o.selection.params for o in full.outcomes]}; "
          f"{speedup:.1f}x less time (cpu {cpu_speedup:.1f}x), {lost:+.2f} points lost")
    assert speedup >= TARGET_SPEEDUP
    assert lost <= TARGET_POINTS_LOST


def test_full_evaluate_of_three_classifiers(benchmark, paper_scale: LoadedData):
    result = benchmark.pedantic(
        evaluate_measures, args=(paper_scale,),
        kwargs={"classifiers": ("rf", "svm", "conv1d"), "splits": ("paper",), "n_splits": EVALUATE_SPLITS,
                "n_jobs": N_JOBS},
        rounds=1, iterations=1)
    summary = result.summary.set_index("classifier")
    seconds = result.tables["splits"].groupby("classifier")["selection_seconds"].sum()
    benchmark.extra_info.update(
        splits=EVALUATE_SPLITS, n_jobs=N_JOBS,
        accuracy={c: round(summary.loc[c, "accuracy_mean"], 4) for c in summary.index},
        selection_seconds={c: round(float(s), 1) for c, s in seconds.items()},
    )
    print(f"\nevaluate rf+svm+conv1d, {EVALUATE_SPLITS} paper splits: {benchmark.stats.stats.median:.0f} s; "
          + "; ".join(f"{c} {summary.loc[c, 'accuracy_mean']:.4f} ± {summary.loc[c, 'accuracy_sem']:.4f} "
                      f"(selection+fit {seconds[c]:.0f} s)" for c in summary.index))
    assert len(result.tables["splits"]) == 3 * EVALUATE_SPLITS
