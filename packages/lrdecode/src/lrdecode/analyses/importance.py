"""Which statistics the decoder relies on (paper Fig. 3).

- Gini importance of the random forest, summed over each statistic's trajectory (the layer
  position one-hot stays three features, as in the paper); mean and s.e.m. across all trees
  of all splits' forests.
- Permutation importance grouped by statistic: on each split's test set, the rows of one
  statistic's whole trajectory are shuffled together and the drop in accuracy recorded;
  mean and s.e.m. across splits (of the mean over repeats). Less biased towards continuous,
  high-cardinality features than Gini.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from lrdecode.analyses.common import check_split_kinds, describe, features_for
from lrdecode.classifiers import get_classifier
from lrdecode.decoding import metrics
from lrdecode.decoding.features import FeatureLayout, FeatureSet
from lrdecode.decoding.protocol import Protocol, SplitOutcome
from lrdecode.io.data import LoadedData
from lrdecode.io.results import Result
from lrdecode.progress import SILENT, Reporter


def statistic_groups(layout: FeatureLayout) -> dict[str, np.ndarray]:
    """Feature columns of each statistic (its whole trajectory) and of each static feature."""
    return {g: layout.columns_of(g) for g in dict.fromkeys(layout.feature_groups)}


def gini_by_statistic(model: Pipeline, layout: FeatureLayout) -> np.ndarray:
    """(trees, statistics): each tree's Gini importance summed over each statistic's columns."""
    forest = model[-1]
    per_tree = np.array([tree.feature_importances_ for tree in forest.estimators_])
    return np.column_stack([per_tree[:, cols].sum(axis=1) for cols in statistic_groups(layout).values()])


def grouped_permutation(model: Pipeline, test: FeatureSet, *, repeats: int, seed: int) -> np.ndarray:
    """(statistics, repeats): accuracy lost when one statistic's trajectory is shuffled across rows."""
    rng = np.random.default_rng(seed)
    y = test.labels.astype(str)
    baseline = float(np.mean(model.predict(test.X) == y))
    groups = statistic_groups(test.layout)
    drops = np.empty((len(groups), repeats))
    for g, cols in enumerate(groups.values()):
        for r in range(repeats):
            shuffled = test.X.copy()
            shuffled[:, cols] = test.X[rng.permutation(len(y))][:, cols]
            drops[g, r] = baseline - float(np.mean(model.predict(shuffled) == y))
    return drops


def importance(
    data: LoadedData,
    *,
    measure: str = "all",
    statistics: Sequence[str] | None = None,
    classifier: str = "rf",
    split: str = "paper",
    n_splits: int = 10,
    test_fraction: float = 0.25,
    repeats: int = 5,
    seed: int = 0,
    exhaustive: bool = False,
    n_jobs: int = 1,
    reporter: Reporter = SILENT,
) -> Result:
    """Gini (forests only) and grouped permutation importance of every statistic, ranked."""
    check_split_kinds([split])
    spec = get_classifier(classifier)
    features = features_for(data, measure, statistics)
    names = list(statistic_groups(features.layout))
    gini: list[np.ndarray] = []
    gini_by_split: list[np.ndarray] = []
    permutation: list[np.ndarray] = []

    def collect(outcome: SplitOutcome, model: Pipeline, test: FeatureSet) -> None:
        if spec.gini:
            trees = gini_by_statistic(model, features.layout)
            gini.append(trees)
            gini_by_split.append(trees.mean(axis=0))
        permutation.append(grouped_permutation(model, test, repeats=repeats,
                                               seed=seed + len(permutation)).mean(axis=1))

    protocol = Protocol((classifier,), (split,), n_splits, test_fraction, seed, exhaustive, n_jobs)
    [run] = protocol.each(features, {"measure": measure}, after_split=collect, reporter=reporter)
    summary = pd.DataFrame({"statistic": names, "measure": [_measure_of(n) for n in names]})
    by_split = []
    if gini:
        mean, sem = metrics.mean_sem(np.concatenate(gini), axis=0)
        summary["gini_mean"], summary["gini_sem"] = mean, sem
        summary["gini_rank"] = summary["gini_mean"].rank(ascending=False, method="min").astype(int)
        by_split.append(_long(np.array(gini_by_split), names, "gini"))
    perm = np.array(permutation)
    summary["permutation_mean"], summary["permutation_sem"] = metrics.mean_sem(perm, axis=0)
    summary["permutation_rank"] = summary["permutation_mean"].rank(ascending=False, method="min").astype(int)
    by_split.append(_long(perm, names, "permutation"))
    order = "gini_mean" if gini else "permutation_mean"
    summary = summary.sort_values(order, ascending=False, kind="stable").reset_index(drop=True)
    return Result(
        analysis="importance",
        settings={"measure": measure, "statistics": list(statistics or []), "classifier": classifier,
                  "split": split, "n_splits": n_splits, "test_fraction": test_fraction, "repeats": repeats,
                  "seed": seed, "exhaustive": exhaustive,
                  "gini": "summed over each statistic's trajectory; mean and s.e.m. over all trees of all splits",
                  "permutation": "statistic's trajectory shuffled across test rows; mean and s.e.m. over splits"},
        data=describe(data, {measure: features}),
        tables={"summary": summary, "by_split": pd.concat(by_split, ignore_index=True),
                "accuracy": run.summary_table()},
    )


def _measure_of(group: str) -> str:
    return group.split(".")[0] if "." in group else "position"


def _long(values: np.ndarray, names: list[str], kind: str) -> pd.DataFrame:
    """(splits, statistics) -> tidy rows (split, statistic, kind, value)."""
    splits, stats = np.indices(values.shape)
    return pd.DataFrame({"split": splits.ravel(), "statistic": np.array(names)[stats.ravel()],
                         "kind": kind, "value": values.ravel()})
