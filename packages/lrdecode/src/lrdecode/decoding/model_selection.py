"""Choosing hyperparameters on training data: the original exhaustive grid, and cheaper
searches that reach the same accuracy.

- exhaustive: ``GridSearchCV`` over the original study's grid with 5-fold inner CV, refit on
  all training data (``--exhaustive``; exact comparison with the paper's procedure).
- race and growth (random forest default, in ``lrdecode.classifiers.forest``): the
  ``max_features`` settings race on a sample of one inner fold, then only the winner grows
  with ``warm_start`` through the grid's sizes, scored out of bag (or, for run-grouped splits,
  on held-out runs), until more trees no longer help. Out of bag, the grown forest is the
  model (no refit): the search costs little more than one fit of the chosen forest.
- screened search (linear SVM, in ``lrdecode.classifiers.svm``): ridge regression scores every
  PCA size at once on each inner fold used; the SVM scores the best and walks C upward.
- successive halving (the others): every candidate of the grid is scored on a small share of
  the resource (training examples, or epochs for the Conv1D), the best third goes on with
  three times as much, until one is left; refit on all training data.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from lrdecode.decoding.features import FeatureLayout
from lrdecode.decoding.splits import inner_cv
from lrdecode.progress import SILENT, Reporter


@dataclass(frozen=True)
class ClassifierSpec:
    """A classifier as the protocol uses it.

    estimator: builds the unfitted estimator with default hyperparameters, given the feature
        layout (None for plain 2-D data), a random state and a number of jobs.
    grid: the exhaustive grid (the original study's where it had one) as GridSearchCV takes
        it, given the layout and the number of examples in the smallest inner training fold.
    select: the default model selection (cheaper than the grid, same accuracy).
    """

    name: str
    label: str
    estimator: Callable[[FeatureLayout | None, int | None, int], BaseEstimator]
    grid: Callable[[FeatureLayout | None, int], list[dict[str, Sequence[Any]]]]
    select: Callable[[SelectionTask], Selection]
    selection: str
    extra: str | None = None
    gini: bool = False


TRACE_COLUMNS = ["params", "budget", "score"]


@dataclass
class SelectionTask:
    """Everything a search needs: the training data, its inner folds, and the resources."""

    spec: ClassifierSpec
    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray | None
    layout: FeatureLayout | None
    folds: list[tuple[np.ndarray, np.ndarray]]
    random_state: int
    n_jobs: int
    reporter: Reporter = SILENT

    def pipeline(self, **params: Any) -> Pipeline:
        return make_pipeline(self.spec, self.layout, self.random_state, self.n_jobs, **params)


@dataclass
class Selection:
    """The chosen model, fitted on all the training data, and how it was chosen."""

    model: Pipeline
    params: dict[str, Any]
    score: float
    method: str
    trace: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TRACE_COLUMNS))
    seconds: float = 0.0


def make_pipeline(spec: ClassifierSpec, layout: FeatureLayout | None, random_state: int | None,
                  n_jobs: int, **params: Any) -> Pipeline:
    """Standardisation (fit on the training data it is given, only) then the classifier."""
    estimator = spec.estimator(layout, random_state, n_jobs)
    if params:
        estimator.set_params(**params)
    return Pipeline([("standardize", StandardScaler()), ("classifier", estimator)])


def select_model(spec: ClassifierSpec, X: np.ndarray, y: np.ndarray, *, groups: np.ndarray | None = None,
                 layout: FeatureLayout | None = None, exhaustive: bool = False, inner_folds: int = 5,
                 random_state: int = 0, n_jobs: int = 1, reporter: Reporter = SILENT,
                 params: dict[str, Any] | None = None) -> Selection:
    """Choose hyperparameters on (X, y) by inner cross-validation and fit the chosen model on all of it.

    ``groups`` (the run of each example) makes the inner folds run-grouped too; ``reporter``
    receives notes on the search's progress. ``params`` skips the search: the model is fit
    with those hyperparameters (chosen elsewhere, e.g. at another measurement setting).
    """
    y = np.asarray(y).astype(str)
    if params is not None:
        start = time.perf_counter()
        reporter.note(f"fitting {params_text(params)}")
        with limited_threads(n_jobs):
            model = make_pipeline(spec, layout, random_state, n_jobs, **params).fit(X, y)
        return Selection(model=model, params=dict(params), score=float("nan"), method="given hyperparameters",
                         seconds=time.perf_counter() - start)
    cv = inner_cv(y, groups, n_folds=inner_folds, seed=random_state)
    folds = list(cv.split(X, y, groups))
    task = SelectionTask(spec=spec, X=X, y=y, groups=groups, layout=layout, folds=folds,
                         random_state=random_state, n_jobs=n_jobs, reporter=reporter)
    start = time.perf_counter()
    with limited_threads(n_jobs):
        selection = exhaustive_search(task) if exhaustive else spec.select(task)
    selection.seconds = time.perf_counter() - start
    return selection


def limited_threads(n_jobs: int) -> threadpool_limits:
    """Keep OpenMP (gradient boosting) to ``n_jobs`` threads: on a shared machine, more threads than
    jobs thrash (a 100-example fit took 7x longer with free threads)."""
    return threadpool_limits(limits=None if n_jobs < 0 else max(1, n_jobs), user_api="openmp")


def exhaustive_search(task: SelectionTask) -> Selection:
    """The original procedure: every point of the grid, every inner fold, then a refit."""
    grid = task.spec.grid(task.layout, _smallest_fold(task))
    task.reporter.note(f"exhaustive grid: {len(grid_candidates(grid))} candidates x {len(task.folds)} folds")
    search = GridSearchCV(task.pipeline(), [{f"classifier__{k}": v for k, v in g.items()} for g in grid],
                          cv=task.folds, n_jobs=task.n_jobs, refit=True, error_score="raise")
    search.fit(task.X, task.y)
    results = search.cv_results_
    trace = pd.DataFrame({
        "params": [params_text({k.removeprefix("classifier__"): v for k, v in p.items()})
                   for p in results["params"]],
        "budget": "all",
        "score": results["mean_test_score"],
    })
    params = {k.removeprefix("classifier__"): v for k, v in search.best_params_.items()}
    return Selection(model=search.best_estimator_, params=params, score=float(search.best_score_),
                     method=f"exhaustive grid ({len(trace)} candidates x {len(task.folds)} folds)", trace=trace)


def grid_candidates(grid: Sequence[dict[str, Sequence[Any]]]) -> list[dict[str, Any]]:
    """Every point of a grid given as a list of dicts of lists (as GridSearchCV takes it)."""
    from sklearn.model_selection import ParameterGrid

    return [dict(p) for p in ParameterGrid(list(grid))]


def halving_budgets(n_candidates: int, max_budget: float, min_budget: float, eta: int = 3) -> list[float]:
    """Rung budgets: the last rung gets ``max_budget``, each earlier one ``eta`` times less."""
    n_rungs = 1 + max(0, math.ceil(math.log(max(n_candidates, 1), eta)))
    budgets = [max(min_budget, max_budget / eta ** (n_rungs - 1 - r)) for r in range(n_rungs)]
    return sorted(set(budgets))


def successive_halving(candidates: Sequence[dict[str, Any]], score: Callable[[int, float], float],
                       budgets: Sequence[float], eta: int = 3) -> tuple[int, float, pd.DataFrame]:
    """Race candidates: score all at the first budget, keep the best 1/eta, repeat with more.

    ``score(i, budget)`` is the validation accuracy of candidate i given that budget. Returns
    the winner's index, its last score and the trace. Ties go to the earlier candidate.
    """
    alive = list(range(len(candidates)))
    rows = []
    last: dict[int, float] = {}
    for r, budget in enumerate(budgets):
        last = {i: score(i, budget) for i in alive}
        rows += [{"params": params_text(candidates[i]), "budget": budget, "score": s} for i, s in last.items()]
        if r < len(budgets) - 1:
            keep = max(1, math.ceil(len(alive) / eta))
            alive = sorted(alive, key=lambda i: (-last[i], i))[:keep]
    best = min(alive, key=lambda i: (-last[i], i))
    return best, last[best], pd.DataFrame(rows, columns=TRACE_COLUMNS)


def stratified_order(y: np.ndarray, seed: int) -> np.ndarray:
    """A permutation of rows whose every prefix is (as nearly as possible) class-balanced.

    Taking its first m rows gives nested, stratified subsamples for successive halving.
    """
    rng = np.random.default_rng(seed)
    keys = np.empty(len(y))
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        keys[rows] = (rng.permutation(len(rows)) + rng.random()) / len(rows)
    return np.argsort(keys, kind="stable")


def sample_budgets(task: SelectionTask, n_candidates: int, eta: int = 3) -> list[int]:
    """Training-example budgets per fold for halving: from a few per rule up to the whole fold."""
    n_classes = len(np.unique(task.y))
    smallest = _smallest_fold(task)
    budgets = halving_budgets(n_candidates, smallest, min(smallest, 10 * n_classes), eta)
    return sorted({round(b) for b in budgets})


def halving_search(task: SelectionTask, candidates: Sequence[dict[str, Any]], eta: int = 3) -> Selection:
    """Successive halving over training examples for any pipeline, then a refit on all of it."""
    from sklearn.base import clone

    orders = [tr[stratified_order(task.y[tr], task.random_state + f)] for f, (tr, _) in enumerate(task.folds)]
    base = task.pipeline()

    def score(i: int, budget: float) -> float:
        task.reporter.note(f"halving: {params_text(candidates[i])} on {int(budget)} examples")
        accuracies = []
        for (_, val), order in zip(task.folds, orders, strict=True):
            rows = order[: int(budget)]
            model = clone(base).set_params(**{f"classifier__{k}": v for k, v in candidates[i].items()})
            model.fit(task.X[rows], task.y[rows])
            accuracies.append(float(np.mean(model.predict(task.X[val]) == task.y[val])))
        return float(np.mean(accuracies))

    best, best_score, trace = successive_halving(candidates, score, sample_budgets(task, len(candidates), eta), eta)
    params = dict(candidates[best])
    task.reporter.note(f"fitting {params_text(params)} on all {len(task.y)} examples")
    model = task.pipeline(**params).fit(task.X, task.y)
    return Selection(model=model, params=params, score=best_score,
                     method=f"successive halving over training examples ({len(candidates)} candidates, "
                            f"{len(task.folds)} folds)", trace=trace)


def params_text(params: dict[str, Any]) -> str:
    """Hyperparameters as compact, sorted JSON (for tables)."""
    return json.dumps({k: _plain(v) for k, v in sorted(params.items())}, sort_keys=True)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _smallest_fold(task: SelectionTask) -> int:
    return int(min(len(train) for train, _ in task.folds))
