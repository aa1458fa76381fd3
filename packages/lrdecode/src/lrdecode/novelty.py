"""How unlike the simulated training data an example is: a novelty score and a calibrated flag.

A classifier names a rule for anything it is given, pure noise included. `NoveltyScorer`
says whether an example's features look like any simulated network at all: it standardises
the features on the training data and scores the squared Mahalanobis distance to the
training mean under a Ledoit-Wolf shrunk covariance, divided by the number of features (so
the scale does not grow with the feature count; it is a distance, not a probability: read it
against ``threshold_``). The threshold is the (1 - flag_rate) quantile of the scores of
simulated examples held out by run-grouped cross-fitting: in-sample scores are optimistic,
held-out ones are what a new run gets.

Why Mahalanobis: the features are trajectories, correlated across sessions and statistics, and a
foreign recording betrays itself by the joint pattern (sessions out of order, statistics that
disagree) more than by one value out of range. The covariance sees those correlations; an isolation
forest or forest proximity splits one feature at a time (on the toy data an isolation forest scored
swapped sessions, and noise with a recording's mean and s.d., about like genuine recordings).
Ledoit-Wolf shrinkage keeps the covariance invertible and stable with hundreds of features and
tens of examples, with no hyperparameter to tune.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.covariance import LedoitWolf
from sklearn.model_selection import GroupKFold, KFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

METHOD = "standardised features, squared Mahalanobis distance (Ledoit-Wolf shrunk covariance) / features"


def _finite_matrix(X: Any, what: str) -> np.ndarray:
    """X as a 2-D float array; refuses NaN or infinite values, naming the first one."""
    array = np.asarray(X, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{what} must be 2-D (examples, features), got shape {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        row, column = (int(i[0]) for i in np.nonzero(bad))
        raise ValueError(
            f"{what} has non-finite values in {int(bad.any(axis=1).sum())} of {len(array)} example(s) (first: "
            f"example {row}, feature {column} is {array[row, column]}); novelty needs finite features: leave out "
            f"the statistics or examples that are not finite")
    return array


class NoveltyScorer(BaseEstimator):
    """Scores how far examples lie from the training set, with a threshold calibrated on held-out runs.

    Parameters: ``flag_rate``, the share of held-out simulated examples allowed to be flagged
    (sets the threshold); ``n_splits``, folds of the cross-fitting (fewer when there are fewer
    runs); ``random_state``, which runs go to which fold.

    Fitted: ``scaler_`` and ``covariance_`` (on all the data), ``threshold_``,
    ``held_out_scores_`` (each training example's score from the fold that did not see its
    run), ``held_out_flagged_`` (the share of those above the threshold), ``n_splits_``,
    ``n_features_in_``.

    `novelty_score` is larger for examples less like the training data (unlike scikit-learn's
    ``score_samples``, where larger means more normal); `predict` is True for examples in
    distribution (score <= threshold_).
    """

    def __init__(self, flag_rate: float = 0.05, n_splits: int = 5, random_state: int | None = 0) -> None:
        self.flag_rate = flag_rate
        self.n_splits = n_splits
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None, groups: Any = None) -> NoveltyScorer:
        """Cross-fit to calibrate ``threshold_`` on held-out runs, then fit on all of X.

        groups: the run of each example (layers of one run are correlated, so a run is held
        out whole); without groups, examples are held out one by one in shuffled folds.
        """
        if not 0.0 < self.flag_rate < 1.0:
            raise ValueError(f"flag_rate must be in (0, 1), got {self.flag_rate}")
        if int(self.n_splits) < 2:
            raise ValueError(f"n_splits must be at least 2, got {self.n_splits}")
        X = validate_data(self, _finite_matrix(X, "X"))
        folds = self._folds(X, groups)
        held_out = np.empty(len(X))
        for train, test in folds:
            scaler, covariance = self._fit_model(X[train])
            held_out[test] = self._distance(scaler, covariance, X[test])
        self.n_splits_ = len(folds)
        self.held_out_scores_ = held_out
        self.threshold_ = float(np.quantile(held_out, 1.0 - self.flag_rate, method="higher"))
        self.held_out_flagged_ = float(np.mean(held_out > self.threshold_))
        self.scaler_, self.covariance_ = self._fit_model(X)
        return self

    def _folds(self, X: np.ndarray, groups: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        """Run-grouped folds (GroupKFold over groups), or shuffled KFold when there are no groups."""
        if groups is None:
            n_splits = min(int(self.n_splits), len(X))
            if n_splits < 2:
                raise ValueError(f"calibrating a novelty threshold needs at least 2 examples, got {len(X)}")
            splitter: GroupKFold | KFold = KFold(n_splits, shuffle=True, random_state=self.random_state)
            return list(splitter.split(X))
        groups = np.asarray(groups)
        if groups.shape != (len(X),):
            raise ValueError(f"groups must give one run per example: {groups.shape[0] if groups.ndim else 0} "
                             f"groups for {len(X)} examples")
        n_groups = len(np.unique(groups))
        n_splits = min(int(self.n_splits), n_groups)
        if n_splits < 2:
            raise ValueError(f"calibrating a novelty threshold needs examples of at least 2 runs, got {n_groups}")
        splitter = GroupKFold(n_splits, shuffle=True, random_state=self.random_state)
        return list(splitter.split(X, groups=groups))

    @staticmethod
    def _fit_model(X: np.ndarray) -> tuple[StandardScaler, LedoitWolf]:
        scaler = StandardScaler().fit(X)
        return scaler, LedoitWolf().fit(scaler.transform(X))

    @staticmethod
    def _distance(scaler: StandardScaler, covariance: LedoitWolf, X: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of standardised features, per feature."""
        return covariance.mahalanobis(scaler.transform(X)) / X.shape[1]

    def novelty_score(self, X: Any) -> np.ndarray:
        """How unlike the training data each example is (larger = less alike); refuses non-finite X."""
        check_is_fitted(self)
        X = validate_data(self, _finite_matrix(X, "X"), reset=False)
        return self._distance(self.scaler_, self.covariance_, X)

    def predict(self, X: Any) -> np.ndarray:
        """True for examples in distribution (novelty score <= threshold_), False for those flagged."""
        return self.novelty_score(X) <= self.threshold_

    def is_in_distribution(self, X: Any) -> np.ndarray:
        """The same as `predict`, by a name that says what True means."""
        return self.predict(X)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready account of the calibration, for model files and reports."""
        check_is_fitted(self)
        held_out = self.held_out_scores_
        return {"method": METHOD, "features": int(self.n_features_in_), "examples": len(held_out),
                "shrinkage": float(self.covariance_.shrinkage_), "flag_rate": float(self.flag_rate),
                "threshold": self.threshold_, "folds": self.n_splits_,
                "held_out_flagged": self.held_out_flagged_,
                "held_out_score_quantiles": {q: float(np.quantile(held_out, float(q)))
                                             for q in ("0.5", "0.9", "0.95", "0.99")},
                "note": "scores of simulated examples whose run was held out by run-grouped cross-fitting; "
                        "an example is flagged when its score exceeds the threshold"}
