"""Random forest: the paper's best decoder, and the one whose Gini importances make Fig. 3.

Default model selection grows forests with ``warm_start`` instead of refitting every size
(see `lrdecode.model_selection`); the exhaustive grid is the original study's.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from lrdecode.classifiers.base import ClassifierSpec
from lrdecode.features import FeatureLayout
from lrdecode.model_selection import TRACE_COLUMNS, Selection, SelectionTask, params_text

MAX_FEATURES: tuple[str | None, ...] = ("sqrt", "log2", None)
N_ESTIMATORS: tuple[int, ...] = (20, 50, 100, 500, 1000)
RACE = (50, 100)  # forest sizes whose scores rank the max_features settings (extrapolated, see `asymptote`)
PLATEAU = 0.0025  # stop growing when more trees gain less than this, or than the score's standard error


def estimator(layout: FeatureLayout | None, random_state: int | None, n_jobs: int) -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=100, random_state=random_state, n_jobs=n_jobs)


def grid(layout: FeatureLayout | None, n_train: int) -> list[dict[str, Sequence[Any]]]:
    return [{"max_features": list(MAX_FEATURES), "n_estimators": list(N_ESTIMATORS)}]


def features_per_split(max_features: str | None, n_features: int) -> int:
    """How many features a tree considers per split (the cost of a setting)."""
    if max_features == "sqrt":
        return max(1, int(math.sqrt(n_features)))
    if max_features == "log2":
        return max(1, int(math.log2(n_features)))
    return n_features


def noise_floor(accuracy: float, n: int, plateau: float = PLATEAU) -> float:
    """The least gain in validation accuracy that is not noise: its standard error, or ``plateau``."""
    return max(plateau, math.sqrt(accuracy * (1.0 - accuracy) / max(n, 1)))


def asymptote(n1: int, score1: float, n2: int, score2: float) -> float:
    """Accuracy extrapolated to infinitely many trees, from a + b/n through two forest sizes.

    Small forests flatter settings whose trees are strong but alike (max_features=None) over
    settings whose trees are weaker but decorrelated (sqrt, log2), which need more trees to
    converge; out of bag, an n-tree forest votes with only ~0.37 n trees per example. Ranked
    at 50 trees, None led on paper-scale-like data; extrapolated, log2 did, as the grid found.
    """
    return (n2 * score2 - n1 * score1) / (n2 - n1)


def grow(task: SelectionTask, *, max_features: Sequence[str | None] = MAX_FEATURES,
         sizes: Sequence[int] = N_ESTIMATORS, race: tuple[int, int] = RACE, plateau: float = PLATEAU) -> Selection:
    """Warm-started forests scored out of bag (or on held-out runs when the split is grouped).

    Every max_features setting grows to ``race[1]`` trees; the best by extrapolated accuracy
    grows on through the larger sizes until more trees gain less than noise.
    """
    scaler = StandardScaler().fit(task.X)
    Z = scaler.transform(task.X)
    out_of_bag = task.groups is None
    if out_of_bag:
        fit_rows, val_rows = np.arange(len(Z)), None
    else:
        fit_rows, val_rows = task.folds[0]
    y_index = np.unique(task.y, return_inverse=True)[1]
    forests = {mf: RandomForestClassifier(n_estimators=0, max_features=mf, warm_start=True, oob_score=out_of_bag,
                                          random_state=task.random_state, n_jobs=task.n_jobs)
               for mf in max_features}
    n_classes = int(y_index.max()) + 1
    votes = {mf: np.zeros((0 if val_rows is None else len(val_rows), n_classes)) for mf in max_features}
    cost = {mf: features_per_split(mf, Z.shape[1]) for mf in max_features}
    n_scored = len(fit_rows) if out_of_bag else len(val_rows)
    scores: dict[tuple[str | None, int], float] = {}
    alive = list(max_features)
    rows = []
    for size in sorted(sizes):
        for mf in alive:
            forest = forests[mf]
            grown = len(getattr(forest, "estimators_", []))
            forest.set_params(n_estimators=size)
            with warnings.catch_warnings():
                # Out of bag with few trees: some examples are in every bag; sklearn warns and skips them.
                warnings.filterwarnings("ignore", message="Some inputs do not have OOB scores")
                forest.fit(Z[fit_rows], task.y[fit_rows])
            if out_of_bag:
                scores[mf, size] = float(forest.oob_score_)
            else:
                for tree in forest.estimators_[grown:]:
                    votes[mf] += tree.predict_proba(Z[val_rows])
                scores[mf, size] = float(np.mean(votes[mf].argmax(axis=1) == y_index[val_rows]))
            rows.append({"params": params_text({"max_features": mf, "n_estimators": size}), "budget": size,
                         "score": scores[mf, size]})
        if len(alive) > 1 and size >= race[1]:
            small, large = race
            alive = [min(alive, key=lambda mf: (-asymptote(small, scores[mf, small], large, scores[mf, large]),
                                                cost[mf]))]
        elif len(alive) == 1:
            earlier = [scores[alive[0], s] for s in sizes if race[1] <= s < size]
            if earlier and scores[alive[0], size] - max(earlier) < noise_floor(scores[alive[0], size], n_scored,
                                                                              plateau):
                break
    # The winner keeps the trees it grew: growth stopped once more trees no longer helped beyond noise.
    winner = min(alive, key=lambda mf: (-scores[mf, forests[mf].n_estimators], cost[mf]))
    forest = forests[winner]
    size = forest.n_estimators
    if out_of_bag:
        forest.set_params(warm_start=False)
    else:
        forest = RandomForestClassifier(n_estimators=size, max_features=winner, random_state=task.random_state,
                                        n_jobs=task.n_jobs).fit(Z, task.y)
    model = Pipeline([("standardize", scaler), ("classifier", forest)])
    how = "out of bag" if out_of_bag else "on held-out runs"
    return Selection(model=model, params={"max_features": winner, "n_estimators": size},
                     score=scores[winner, size],
                     method=f"warm-started forest growth scored {how} ({', '.join(map(str, max_features))} raced "
                            f"to {race[1]} trees and ranked by extrapolated accuracy; the best grown until "
                            f"more trees gained less than noise)",
                     trace=pd.DataFrame(rows, columns=TRACE_COLUMNS))


SPEC = ClassifierSpec(
    name="rf",
    label="random forest",
    estimator=estimator,
    grid=grid,
    select=grow,
    selection="warm-started forests scored out of bag (grouped splits: on held-out runs); max_features "
              "raced to 100 trees, ranked by accuracy extrapolated to many trees; growth stops when more "
              "trees stop helping",
    gini=True,
)
