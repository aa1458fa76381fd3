"""Random forest: the paper's best decoder, and the one whose Gini importances make Fig. 3.

Default model selection grows forests with ``warm_start`` instead of refitting every size
(see `lrdecode.decoding.model_selection`); the exhaustive grid is the original study's.
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
from lrdecode.decoding.features import FeatureLayout
from lrdecode.decoding.model_selection import TRACE_COLUMNS, Selection, SelectionTask, params_text, stratified_order

MAX_FEATURES: tuple[str | None, ...] = ("sqrt", "log2", None)
N_ESTIMATORS: tuple[int, ...] = (20, 50, 100, 500, 1000)
RACE_EXAMPLES = 2000  # training (and at most as many validation) examples of the max_features race
RACE_TREES = 128  # trees of the cheapest setting in the race; dearer settings get the same compute
RACE_MIN_TREES = 16
PLATEAU = 0.0025  # stop growing when more trees gain less than this, or than the score's standard error


def estimator(layout: FeatureLayout | None, random_state: int | None, n_jobs: int) -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=100, random_state=random_state, n_jobs=n_jobs)


def grid(layout: FeatureLayout | None, n_train: int) -> list[dict[str, Sequence[Any]]]:
    return [{"max_features": list(MAX_FEATURES), "n_estimators": list(N_ESTIMATORS)}]


def features_per_split(max_features: str | None, n_features: int) -> int:
    """How many features a tree considers per split (what a tree costs, in proportion)."""
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
    converge. The race gives each setting a different number of trees, so it compares them
    extrapolated.
    """
    return (n2 * score2 - n1 * score1) / (n2 - n1)


def race_trees(costs: dict[str | None, int], trees: int = RACE_TREES,
               least: int = RACE_MIN_TREES) -> dict[str | None, int]:
    """Trees per setting in the race: the cheapest gets ``trees``, the others as many tree-features
    (trees x features per split), but at least ``least`` (so max_features=None, at hundreds of
    features, gets more compute than the others); even, so that half of them is a size too."""
    cheapest = min(costs.values())
    return {mf: 2 * max(least // 2, round(trees * cheapest / cost / 2)) for mf, cost in costs.items()}


def race(task: SelectionTask, Z: np.ndarray, settings: Sequence[str | None], rows: list[dict[str, Any]],
         examples: int = RACE_EXAMPLES, trees: int = RACE_TREES) -> str | None:
    """The max_features setting to grow: raced on a class-balanced sample of inner fold 0.

    Each setting grows to its share of trees (`race_trees`) on at most ``examples`` of the
    fold's training rows, scored on at most as many of its validation rows (every tree votes,
    unlike out of bag), at half and all of its trees; ranked by the accuracy extrapolated to
    many trees. Settings within one standard error of the best count as tied, and the cheapest
    of them wins.
    """
    train, val = task.folds[0]
    fit_rows = train[stratified_order(task.y[train], task.random_state)[:examples]]
    val_rows = val[stratified_order(task.y[val], task.random_state + 1)[:examples]]
    costs = {mf: features_per_split(mf, Z.shape[1]) for mf in settings}
    extrapolated = {}
    for mf, n in race_trees(costs, trees).items():
        task.reporter.note(f"rf race: max_features={mf}, {n} trees on {len(fit_rows)} examples")
        forest = RandomForestClassifier(n_estimators=n // 2, max_features=mf, warm_start=True,
                                        random_state=task.random_state, n_jobs=task.n_jobs)
        scores = []
        for size in (n // 2, n):
            forest.set_params(n_estimators=size).fit(Z[fit_rows], task.y[fit_rows])
            scores.append(float(forest.score(Z[val_rows], task.y[val_rows])))
            rows.append({"params": params_text({"max_features": mf, "n_estimators": size}),
                         "budget": f"race: {len(fit_rows)} examples", "score": scores[-1]})
        extrapolated[mf] = asymptote(n // 2, scores[0], n, scores[1])
    return cheapest_within_noise(extrapolated, costs, len(val_rows))


def cheapest_within_noise(extrapolated: dict[str | None, float], costs: dict[str | None, int], n: int) -> str | None:
    """The cheapest setting whose accuracy (clipped to [0, 1]) is within a standard error of the best.

    The standard error is that of an accuracy on n examples, at least one example's worth
    (1/n), so that a best setting extrapolated to 1 does not leave the others no margin.
    """
    clipped = {mf: min(max(a, 0.0), 1.0) for mf, a in extrapolated.items()}
    best = max(clipped.values())
    margin = max(noise_floor(best, n, 0.0), 1.0 / max(n, 1))
    tied = [mf for mf in clipped if clipped[mf] >= best - margin]
    return min(tied, key=lambda mf: costs[mf])


def grow(task: SelectionTask, *, max_features: Sequence[str | None] = MAX_FEATURES,
         sizes: Sequence[int] = N_ESTIMATORS, race_examples: int = RACE_EXAMPLES, race_size: int = RACE_TREES,
         plateau: float = PLATEAU) -> Selection:
    """max_features raced on a sample, then one forest grown with ``warm_start`` until more trees stop helping.

    Growth goes through the grid's sizes from 50 trees, scored out of bag (or, when the split is
    grouped, on inner fold 0's held-out runs, since out-of-bag layers have siblings of their run
    in the bag); it stops once a size gains less than noise over the best before it. Out of
    bag the grown forest is the model; on held-out runs a forest of the reached size is refit
    on all the data.
    """
    scaler = StandardScaler().fit(task.X)
    Z = scaler.transform(task.X)
    rows: list[dict[str, Any]] = []
    raced = len(max_features) > 1
    winner = race(task, Z, max_features, rows, race_examples, race_size) if raced else max_features[0]
    out_of_bag = task.groups is None
    fit_rows, val_rows = (np.arange(len(Z)), None) if out_of_bag else task.folds[0]
    n_scored = len(fit_rows) if out_of_bag else len(val_rows)
    forest = RandomForestClassifier(n_estimators=0, max_features=winner, warm_start=True, oob_score=out_of_bag,
                                    random_state=task.random_state, n_jobs=task.n_jobs)
    scores: dict[int, float] = {}
    for size in [s for s in sorted(sizes) if s >= 50] or sorted(sizes)[-1:]:
        task.reporter.note(f"rf growth: max_features={winner}, {size} trees (of at most {max(sizes)})")
        forest.set_params(n_estimators=size)
        with warnings.catch_warnings():
            # Out of bag with few trees: some examples are in every bag; sklearn warns and skips them.
            warnings.filterwarnings("ignore", message="Some inputs do not have OOB scores")
            forest.fit(Z[fit_rows], task.y[fit_rows])
        scores[size] = float(forest.oob_score_ if out_of_bag else forest.score(Z[val_rows], task.y[val_rows]))
        rows.append({"params": params_text({"max_features": winner, "n_estimators": size}),
                     "budget": "growth", "score": scores[size]})
        earlier = [v for s, v in scores.items() if s < size]
        if earlier and scores[size] - max(earlier) < noise_floor(scores[size], n_scored, plateau):
            break
    size = forest.n_estimators
    if out_of_bag:
        forest.set_params(warm_start=False)
    else:
        task.reporter.note(f"rf: fitting {size} trees on all {len(Z)} examples")
        forest = RandomForestClassifier(n_estimators=size, max_features=winner, random_state=task.random_state,
                                        n_jobs=task.n_jobs).fit(Z, task.y)
    model = Pipeline([("standardize", scaler), ("classifier", forest)])
    how = "out of bag" if out_of_bag else "on held-out runs"
    race_text = (f"max_features raced on at most {race_examples} examples of inner fold 0 "
                 f"({', '.join(map(str, max_features))}, about equal compute, ranked by accuracy extrapolated to many "
                 f"trees, ties to the cheapest); the winner" if raced else f"max_features={winner}")
    return Selection(model=model, params={"max_features": winner, "n_estimators": size}, score=scores[size],
                     method=f"{race_text} grown and scored {how} until more trees gained less than noise",
                     trace=pd.DataFrame(rows, columns=TRACE_COLUMNS))


SPEC = ClassifierSpec(
    name="rf",
    label="random forest",
    estimator=estimator,
    grid=grid,
    select=grow,
    selection="max_features raced on a sample of inner fold 0 (about equal compute per setting, accuracy "
              "extrapolated to many trees, ties to the cheapest); the winner grown with warm_start, scored out "
              "of bag (grouped splits: on held-out runs), until more trees stop helping",
    gini=True,
)
