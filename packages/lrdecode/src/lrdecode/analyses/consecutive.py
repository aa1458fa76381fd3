"""Consecutive portions of the trajectory (paper Fig. 4b, S6, S7): train on one third (early,
middle or late), test on each third.

Every split divides the examples once: a classifier trained on the training examples' early
third is tested on the *test* examples' early, middle and late thirds, so a test example is
never trained on, whatever the portion. The thirds have equal length, floor(K/3) checkpoints
(`lrdecode.limits.thirds`), so features line up; every portion keeps the statistics that are
finite over the whole trajectory, so all portions have the same features.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from lrdecode.analyses.common import check_split_kinds, concat, describe, features_for
from lrdecode.decoding import metrics
from lrdecode.decoding.features import FeatureSet, build_features, without_dropped_examples
from lrdecode.decoding.model_selection import limited_threads
from lrdecode.decoding.protocol import SplitOutcome, labelled, run_protocol
from lrdecode.decoding.splits import make_splits, split_groups
from lrdecode.io.data import LoadedData
from lrdecode.io.results import Result
from lrdecode.limits import PORTIONS, thirds, window
from lrdecode.progress import SILENT, Reporter


def consecutive_portions(
    data: LoadedData,
    *,
    measures: Sequence[str] = ("all",),
    statistics: Sequence[str] | None = None,
    classifier: str = "rf",
    splits: Sequence[str] = ("paper", "grouped"),
    n_splits: int = 10,
    test_fraction: float = 0.25,
    seed: int = 0,
    exhaustive: bool = False,
    n_jobs: int = 1,
    reporter: Reporter = SILENT,
) -> Result:
    """A 3 x 3 matrix per (measure, split kind): accuracy of train portion -> test portion, mean +- s.e.m."""
    splits = check_split_kinds(splits)
    windows = thirds(data.trajectories.values.shape[1])
    full = {m: features_for(data, m, statistics) for m in dict.fromkeys(measures)}
    rows = []
    for measure, whole in full.items():
        kept = without_dropped_examples(data.trajectories, whole)
        portions = {name: labelled(build_features(window(kept, checkpoints), measure=measure,
                                                  statistics=list(whole.layout.observables)))
                    for name, checkpoints in windows.items()}
        reference = portions["early"]
        for kind in splits:
            groups = split_groups(kind, reference.examples, reference.groups)
            split_list = make_splits(kind, reference.labels.astype(str), groups, n_splits=n_splits,
                                     test_fraction=test_fraction, seed=seed)
            for train_portion in PORTIONS:
                keys = {"measure": measure, "classifier": classifier, "split": kind, "train_portion": train_portion}
                run_protocol(portions[train_portion], split_list, classifier=classifier,
                             inner_groups=groups, exhaustive=exhaustive, seed=seed, n_jobs=n_jobs,
                             keys={"measure": measure, "split": kind, "train": train_portion},
                             after_split=_test_every_portion(portions, reference.classes, keys, rows, n_jobs),
                             reporter=reporter)
    by_split = pd.DataFrame(rows)
    keys = ["measure", "classifier", "split", "train_portion", "test_portion"]
    summary = []
    chance = {m: 1.0 / len(f.labelled().classes) for m, f in full.items()}
    for key, group in by_split.groupby(keys, sort=False):
        row = dict(zip(keys, key, strict=True))
        for score in ("accuracy", "balanced_accuracy", "dprime"):
            row[f"{score}_mean"], row[f"{score}_sem"] = metrics.mean_sem(group[score])
        row["same_portion"] = row["train_portion"] == row["test_portion"]
        row["chance"] = chance[row["measure"]]
        row["n_splits"] = len(group)
        summary.append(row)
    return Result(
        analysis="consecutive",
        settings={"portions": {name: [int(c) for c in checkpoints] for name, checkpoints in windows.items()},
                  "n_checkpoints": data.trajectories.values.shape[1], "measures": list(full),
                  "statistics": list(statistics or []), "classifier": classifier, "splits": splits,
                  "n_splits": n_splits, "test_fraction": test_fraction, "seed": seed, "exhaustive": exhaustive},
        data=describe(data, full),
        tables={"summary": concat([pd.DataFrame(summary)]), "splits": by_split},
    )


def _test_every_portion(portions: dict[str, FeatureSet], classes: tuple[str, ...], keys: dict[str, object],
                        rows: list[dict[str, object]], n_jobs: int
                        ) -> Callable[[SplitOutcome, Pipeline, FeatureSet], None]:
    """A callback for `run_protocol`: score the fitted model on the split's test examples in every portion."""

    def score(outcome: SplitOutcome, model: Pipeline, _: FeatureSet) -> None:
        for test_portion, features in portions.items():
            test = features.subset(outcome.split.test)
            with limited_threads(n_jobs):
                proba = model.predict_proba(test.X)
            predicted = np.asarray(model.classes_)[proba.argmax(axis=1)].astype(str)
            scores = metrics.scores(metrics.confusion(test.labels.astype(str), predicted, classes))
            rows.append({**keys, "test_portion": test_portion, "split_index": int(outcome.split.label.split()[-1]),
                         **scores, "n_train": len(outcome.split.train), "n_test": len(outcome.split.test)})

    return score
