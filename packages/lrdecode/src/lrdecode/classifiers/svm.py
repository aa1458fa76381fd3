"""Linear SVM, optionally after PCA: the paper's linear decoder.

One-vs-rest, squared hinge loss (liblinear, primal when there are more examples than
features). Probabilities, as in the original study, are the logistic function of each
one-vs-rest decision value, normalised over rules: a monotone score, not a calibrated one.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
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
from lrdecode.decoding.features import FeatureLayout
from lrdecode.decoding.model_selection import TRACE_COLUMNS, Selection, SelectionTask, params_text

C_VALUES: tuple[float, ...] = (1.0, 5e1, 5e2, 5e3, 5e4, 5e5, 5e6)
PCA_COMPONENTS: tuple[int, ...] = (10, 20, 30, 40, 50, 100, 200, 300, 400, 500, 600)
VALIDATION_EXAMPLES = 2000  # inner folds used: as many as give this many validation examples (s.e. <= 0.011)


class LinearSVMClassifier(ClassifierMixin, BaseEstimator):
    """Linear SVM (one-vs-rest) on the first ``n_components`` principal components, or on X.

    n_components larger than the data allows (examples or features) is reduced to what it
    allows; the number used is ``n_components_``. Convergence is recorded in ``converged_``
    rather than warned about: the original grid's largest C values rarely converge. The PCA is
    an exact SVD: the default search scores prefixes of one exact PCA per fold, so the model it
    picks must use the same components (scikit-learn's randomized PCA, its default below 80% of
    the features, differs in the trailing components).
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
            self.pca_ = PCA(n_components=self.n_components_, svd_solver="full").fit(X)
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


def screened_search(task: SelectionTask, keep: int = 1, least_validation: int = VALIDATION_EXAMPLES) -> Selection:
    """The original grid, screened by a least-squares twin of the SVM, searched by the SVM along C.

    1. Screen: on the inner folds, one-vs-rest ridge regression on +-1 targets with penalty
       1/(2C) at the smallest C (the squared hinge loss without its hinge) scores every PCA size
       and no PCA. Principal components are orthogonal and nested, so one PCA per fold gives the
       ridge solution for every size at once: the screen costs less than one SVM fit.
    2. The SVM at the smallest C for the ``keep`` sizes the screen ranks best.
    3. For each of them, C goes up the grid while it improves the inner-CV accuracy by more
       than its standard error.
    Only as many inner folds are used as give ``least_validation`` validation examples (one
    fold at the paper's scale), so that the search costs a small multiple of one fit: a PCA
    and a few SVM fits on 80% of the data, then the chosen model on all of it.
    """
    folds = enough_folds(task.folds, least_validation)
    grid_ = grid(task.layout, min(len(tr) for tr, _ in folds))
    sizes: list[int | None] = [None, *(grid_[1]["n_components"] if len(grid_) > 1 else [])]
    c_values = sorted(grid_[0]["C"])
    task.reporter.note(f"svm: one PCA per inner fold ({len(folds)})")
    prepared = [prepare_fold(task, train, val) for train, val in folds]
    n_validation = sum(len(val) for _, val in folds)
    rows: list[dict[str, Any]] = []

    screen = np.mean([ridge_accuracies(fold, sizes, c_values[0]) for fold in prepared], axis=0)
    for k, accuracy in zip(sizes, screen, strict=True):
        rows.append({"params": params_text({"C": c_values[0], "n_components": k}), "budget": SCREEN,
                     "score": float(accuracy)})
    screened = [sizes[i] for i in np.argsort(-screen, kind="stable")[:keep]]

    def fold_accuracy(k: int | None, c: float, fold: PreparedFold) -> float:
        a, b = (fold.x_train, fold.x_val) if k is None else (fold.z_train[:, :k], fold.z_val[:, :k])
        svc, _ = fit_linear_svc(a, fold.y_train, C=c, random_state=task.random_state)
        return float(np.mean(svc.predict(b) == fold.y_val))

    scores: dict[tuple[int | None, float], float] = {}

    def score(k: int | None, c: float, stage: str) -> float:
        task.reporter.note(f"svm: C={c:g}, {k or 'no'} components")
        accuracies = Parallel(n_jobs=task.n_jobs, prefer="threads")(
            delayed(fold_accuracy)(k, c, fold) for fold in prepared)
        scores[k, c] = float(np.mean(accuracies))
        rows.append({"params": params_text({"C": c, "n_components": k}), "budget": stage, "score": scores[k, c]})
        return scores[k, c]

    for k in screened:
        score(k, c_values[0], SMALLEST_C)
    for k in screened:
        best = scores[k, c_values[0]]
        for c in c_values[1:]:
            gained = score(k, c, C_UPWARD) - best
            best = max(best, scores[k, c])
            if gained <= standard_error(best, n_validation):
                break
    (k, c), best_score = max(scores.items(), key=lambda item: (item[1], -item[0][1]))
    params = {"C": c, "n_components": k}
    task.reporter.note(f"svm: fitting C={c:g}, {k or 'no'} components on all {len(task.y)} examples")
    model: Pipeline = task.pipeline(**params).fit(task.X, task.y)
    return Selection(model=model, params=params, score=best_score,
                     method=f"screened search of the original grid ({len(sizes)} sizes screened by ridge, "
                            f"{len(scores)} of {len(sizes) * len(c_values)} points by the SVM, "
                            f"{len(folds)} of {len(task.folds)} inner folds, one PCA per fold)",
                     trace=pd.DataFrame(rows, columns=TRACE_COLUMNS))


SCREEN = "ridge screen of every size at the smallest C"
SMALLEST_C = "the SVM at the smallest C for the best screened size(s)"
C_UPWARD = "C upward for the best screened size(s)"


@dataclass
class PreparedFold:
    """One inner fold, standardised, and its scores on all its principal components."""

    x_train: np.ndarray
    x_val: np.ndarray
    z_train: np.ndarray
    z_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray


def enough_folds(folds: Sequence[tuple[np.ndarray, np.ndarray]], least: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first folds whose validation parts hold at least ``least`` examples together (all, if fewer)."""
    chosen: list[tuple[np.ndarray, np.ndarray]] = []
    for fold in folds:
        chosen.append(fold)
        if sum(len(val) for _, val in chosen) >= least:
            break
    return chosen


def prepare_fold(task: SelectionTask, train: np.ndarray, val: np.ndarray) -> PreparedFold:
    scaler = StandardScaler().fit(task.X[train])
    x_train, x_val = scaler.transform(task.X[train]), scaler.transform(task.X[val])
    pca = PCA(n_components=min(x_train.shape), svd_solver="full").fit(x_train)
    return PreparedFold(x_train, x_val, pca.transform(x_train), pca.transform(x_val), task.y[train], task.y[val])


def ridge_accuracies(fold: PreparedFold, sizes: Sequence[int | None], c: float) -> np.ndarray:
    """Validation accuracy of one-vs-rest ridge (penalty 1/(2c), +-1 targets) on the first k components.

    With orthogonal, centred components the coefficient of each component does not depend on
    which others are in the model, so every size is a prefix of one solution. Without PCA the
    ridge solution equals the one on all components (a rotation of the standardised features).
    """
    classes = np.unique(fold.y_train)
    targets = np.where(fold.y_train[:, None] == classes[None, :], 1.0, -1.0)
    coefficients = (fold.z_train.T @ targets) / (np.einsum("ij,ij->j", fold.z_train, fold.z_train)[:, None]
                                                  + 1.0 / (2.0 * c))
    intercept = targets.mean(axis=0)
    accuracies = []
    for k in sizes:
        k = fold.z_train.shape[1] if k is None else min(k, fold.z_train.shape[1])
        decision = intercept + fold.z_val[:, :k] @ coefficients[:k]
        accuracies.append(np.mean(classes[decision.argmax(axis=1)] == fold.y_val))
    return np.asarray(accuracies)


def standard_error(accuracy: float, n: int) -> float:
    """Standard error of an accuracy measured on n examples."""
    return float(np.sqrt(accuracy * (1.0 - accuracy) / max(n, 1)))


SPEC = ClassifierSpec(
    name="svm",
    label="linear SVM",
    estimator=estimator,
    grid=grid,
    select=screened_search,
    selection="screened search of the original grid: ridge (the SVM's least-squares twin) scores every PCA "
              "size at C=1, the SVM scores the best, then C goes upward while it helps; one PCA per inner "
              "fold, on as many folds as give 2,000 validation examples",
)
