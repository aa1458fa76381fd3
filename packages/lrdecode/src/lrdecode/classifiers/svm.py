"""Linear SVM, optionally after PCA: the paper's linear decoder.

One-vs-rest, squared hinge loss (liblinear, primal when there are more examples than
features). Probabilities, as in the original study, are the logistic function of each
one-vs-rest decision value, normalised over rules: a monotone score, not a calibrated one.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from lrdecode.classifiers.base import ClassifierSpec
from lrdecode.features import FeatureLayout
from lrdecode.model_selection import TRACE_COLUMNS, Selection, SelectionTask, params_text

C_VALUES: tuple[float, ...] = (1.0, 5e1, 5e2, 5e3, 5e4, 5e5, 5e6)
PCA_COMPONENTS: tuple[int, ...] = (10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 600)


class LinearSVMClassifier(ClassifierMixin, BaseEstimator):
    """Linear SVM (one-vs-rest) on the first ``n_components`` principal components, or on X.

    n_components larger than the data allows (examples or features) is reduced to what it
    allows; the number used is ``n_components_``. Convergence is recorded in ``converged_``
    rather than warned about: the original grid's largest C values rarely converge.
    """

    def __init__(self, C: float = 1.0, n_components: int | None = None, max_iter: int = 1000,
                 tol: float = 1e-4, random_state: int | None = None) -> None:
        self.C = C
        self.n_components = n_components
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> LinearSVMClassifier:
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        if self.n_components is not None:
            self.n_components_ = int(min(self.n_components, X.shape[0], X.shape[1]))
            self.pca_ = PCA(n_components=self.n_components_, random_state=self.random_state).fit(X)
            X = self.pca_.transform(X)
        else:
            self.n_components_ = None
        self.svc_, self.converged_ = fit_linear_svc(X, y, C=self.C, max_iter=self.max_iter, tol=self.tol,
                                                    random_state=self.random_state)
        self.classes_ = self.svc_.classes_
        self.n_iter_ = int(self.svc_.n_iter_)
        return self

    def _reduced(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self.pca_.transform(X) if self.n_components_ is not None else X

    def decision_function(self, X: Any) -> np.ndarray:
        reduced = self._reduced(X)
        return self.svc_.decision_function(reduced)

    def predict(self, X: Any) -> np.ndarray:
        reduced = self._reduced(X)
        return self.svc_.predict(reduced)

    def predict_proba(self, X: Any) -> np.ndarray:
        return decision_to_proba(self.decision_function(X))


def fit_linear_svc(X: np.ndarray, y: np.ndarray, *, C: float, max_iter: int = 1000, tol: float = 1e-4,
                   random_state: int | None = None) -> tuple[LinearSVC, bool]:
    """A fitted LinearSVC and whether liblinear converged within max_iter."""
    svc = LinearSVC(C=C, dual="auto", max_iter=max_iter, tol=tol, random_state=random_state)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        svc.fit(X, y)
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return svc, converged


def decision_to_proba(decision: np.ndarray) -> np.ndarray:
    """Logistic of the one-vs-rest decision values, normalised to sum to one (n, n_classes)."""
    p = expit(decision)
    if p.ndim == 1:
        return np.column_stack([1.0 - p, p])
    return p / p.sum(axis=1, keepdims=True)


def estimator(layout: FeatureLayout | None, random_state: int | None, n_jobs: int) -> LinearSVMClassifier:
    return LinearSVMClassifier(random_state=random_state)


def grid(layout: FeatureLayout | None, n_train: int) -> list[dict[str, Sequence[Any]]]:
    """The original grid: C alone, or PCA components x C; components beyond the data are left out
    (the original code skipped them when they failed to fit)."""
    limit = min(n_train, layout.n_features) if layout is not None else n_train
    components = [k for k in PCA_COMPONENTS if k <= limit]
    grids: list[dict[str, Sequence[Any]]] = [{"C": list(C_VALUES), "n_components": [None]}]
    if components:
        grids.append({"C": list(C_VALUES), "n_components": components})
    return grids


def coordinate_search(task: SelectionTask, keep: int = 3) -> Selection:
    """The original grid searched along its axes, on every inner fold, with one PCA per fold.

    1. Every PCA size (and no PCA) at the smallest C. 2. For the ``keep`` best sizes, C goes up
    the grid while it improves the inner-CV accuracy by more than its standard error.
    Principal components are nested (the first k columns of a full PCA are the PCA with k
    components), so a fold's candidates share one PCA. Accuracy is nearly flat in C here while
    the large-C fits are the slow ones (liblinear runs to its iteration limit), so walking C
    only while it helps skips most of the grid's cost; halving over training examples was
    cheaper still but, scoring on small subsamples, favoured few components and lost accuracy.
    """
    grid_ = grid(task.layout, min(len(tr) for tr, _ in task.folds))
    sizes: list[int | None] = [None, *(grid_[1]["n_components"] if len(grid_) > 1 else [])]
    c_values = sorted(grid_[0]["C"])
    largest = max((k for k in sizes if k is not None), default=0)
    prepared = []
    for train, val in task.folds:
        scaler = StandardScaler().fit(task.X[train])
        x_train, x_val = scaler.transform(task.X[train]), scaler.transform(task.X[val])
        z_train = z_val = None
        if largest:
            pca = PCA(n_components=min(largest, *x_train.shape), random_state=task.random_state).fit(x_train)
            z_train, z_val = pca.transform(x_train), pca.transform(x_val)
        prepared.append((x_train, x_val, z_train, z_val, task.y[train], task.y[val]))

    def fold_accuracy(k: int | None, c: float, fold: tuple) -> float:
        x_train, x_val, z_train, z_val, y_train, y_val = fold
        a, b = (x_train, x_val) if k is None else (z_train[:, :k], z_val[:, :k])
        svc, _ = fit_linear_svc(a, y_train, C=c, random_state=task.random_state)
        return float(np.mean(svc.predict(b) == y_val))

    rows: list[dict[str, Any]] = []
    scores: dict[tuple[int | None, float], float] = {}

    def score(k: int | None, c: float, stage: str) -> float:
        accuracies = Parallel(n_jobs=task.n_jobs, prefer="threads")(
            delayed(fold_accuracy)(k, c, fold) for fold in prepared)
        scores[k, c] = float(np.mean(accuracies))
        rows.append({"params": params_text({"C": c, "n_components": k}), "budget": stage, "score": scores[k, c]})
        return scores[k, c]

    for k in sizes:
        score(k, c_values[0], "every PCA size at the smallest C")
    best_sizes = sorted(sizes, key=lambda k: -scores[k, c_values[0]])[:keep]
    for k in best_sizes:
        best = scores[k, c_values[0]]
        for c in c_values[1:]:
            gained = score(k, c, "C upward for the best sizes") - best
            best = max(best, scores[k, c])
            if gained <= standard_error(best, len(task.y)):
                break
    (k, c), best_score = max(scores.items(), key=lambda item: (item[1], -item[0][1]))
    params = {"C": c, "n_components": k}
    model: Pipeline = task.pipeline(**params).fit(task.X, task.y)
    return Selection(model=model, params=params, score=best_score,
                     method=f"coordinate search of the original grid ({len(scores)} of "
                            f"{len(sizes) * len(c_values)} points, {len(task.folds)} folds, one PCA per fold)",
                     trace=pd.DataFrame(rows, columns=TRACE_COLUMNS))


def standard_error(accuracy: float, n: int) -> float:
    """Standard error of an accuracy measured on n examples."""
    return float(np.sqrt(accuracy * (1.0 - accuracy) / max(n, 1)))


SPEC = ClassifierSpec(
    name="svm",
    label="linear SVM",
    estimator=estimator,
    grid=grid,
    select=coordinate_search,
    selection="coordinate search of the original grid: every PCA size at C=1, then C upward for the best "
              "three sizes while it helps; one PCA per inner fold",
)
