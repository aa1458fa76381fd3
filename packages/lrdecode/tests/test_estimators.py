"""Every classifier is a scikit-learn estimator: scikit-learn's own checks, and use in Pipeline and
GridSearchCV. Checks expected to fail are named with the reason."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from lrdecode.classifiers import CLASSIFIERS
from lrdecode.classifiers.conv1d import Conv1DClassifier
from lrdecode.classifiers.svm import LinearSVMClassifier

# The registry's estimators (as the protocol builds them) and our own classes' variants.
ESTIMATORS = [
    CLASSIFIERS["rf"].estimator(None, 0, 1),
    CLASSIFIERS["svm"].estimator(None, 0, 1),
    LinearSVMClassifier(n_components=2, random_state=0),
    CLASSIFIERS["logreg"].estimator(None, 0, 1),
    CLASSIFIERS["hgb"].estimator(None, 0, 1),
]


def expected_failures(estimator: BaseEstimator) -> dict[str, str]:
    if type(estimator).__name__ == "RandomForestClassifier":
        reason = ("bootstrap draws rows in proportion to their weights, so a weight of 2 is not a repeated row; "
                  "scikit-learn lists the same failure for its own forests")
        return {"check_sample_weight_equivalence_on_dense_data": reason,
                "check_sample_weight_equivalence_on_sparse_data": reason}
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_scikit_learn_checks(estimator, check):
    check(estimator)


@pytest.mark.slow  # reason: each Keras fit costs ~1 s of graph tracing; the ~100 fits of the checks take minutes
@parametrize_with_checks([Conv1DClassifier(epochs=50, learning_rate=1e-2, batch_size=32, random_state=0)])
def test_scikit_learn_checks_of_the_conv1d(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name", ["rf", "svm", "logreg", "hgb", "conv1d"])
def test_registry_estimators_work_in_pipelines_and_grid_search(name):
    rng = np.random.default_rng(0)
    y = np.repeat(["adam", "fa", "ia"], 20)
    X = rng.normal(size=(60, 3 * 4 + 3)) + (y[:, None] == "fa") * 1.5
    from lrdecode.decoding.features import FeatureLayout

    layout = FeatureLayout(observables=("act.abs.mean", "act.raw.mean", "grad.raw.id"), n_checkpoints=4)
    estimator = CLASSIFIERS[name].estimator(layout, 0, 1)
    if name == "conv1d":
        estimator.set_params(epochs=5, batch_size=16)
    grid_point = {k: [v[0]] for k, v in CLASSIFIERS[name].grid(layout, 40)[0].items() if k != "epochs"}
    search = GridSearchCV(make_pipeline(StandardScaler(), estimator),
                          {f"{type(estimator).__name__.lower()}__{k}": v for k, v in grid_point.items()}, cv=2)
    search.fit(X, y)
    proba = search.predict_proba(X)
    assert proba.shape == (60, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(search.classes_) == ["adam", "fa", "ia"]
    assert clone(estimator).get_params() == estimator.get_params()
