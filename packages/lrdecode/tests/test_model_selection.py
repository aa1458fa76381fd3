"""Model selection: successive halving, warm-started forest growth, the exhaustive grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge

from lrdecode.classifiers import CLASSIFIERS
from lrdecode.classifiers.forest import MAX_FEATURES, N_ESTIMATORS, asymptote, cheapest_within_noise, race_trees
from lrdecode.classifiers.svm import (
    C_UPWARD,
    SCREEN,
    SMALLEST_C,
    enough_folds,
    prepare_fold,
    ridge_accuracies,
)
from lrdecode.decoding.features import build_features
from lrdecode.decoding.model_selection import (
    SelectionTask,
    halving_budgets,
    select_model,
    stratified_order,
    successive_halving,
)


def test_successive_halving_keeps_the_best_third_and_finds_the_best():
    quality = [0.2, 0.9, 0.5, 0.7, 0.1, 0.8, 0.3, 0.6, 0.4]
    calls: list[tuple[int, float]] = []

    def score(i: int, budget: float) -> float:
        calls.append((i, budget))
        return quality[i] * budget / (budget + 10)  # more budget, better; the order never changes

    budgets = halving_budgets(9, 90, 5)
    assert budgets == [10, 30, 90]
    best, best_score, trace = successive_halving([{"i": i} for i in range(9)], score, budgets)
    assert best == 1 and best_score == pytest.approx(0.9 * 90 / 100)
    assert [sum(1 for _, b in calls if b == budget) for budget in budgets] == [9, 3, 1]
    assert list(trace.columns) == ["params", "budget", "score"] and len(trace) == 13


def test_stratified_order_gives_balanced_nested_subsamples():
    y = np.repeat(["a", "b", "c"], [30, 60, 90])
    order = stratified_order(y, seed=0)
    assert sorted(order) == list(range(180))
    for m in (12, 30, 90):
        shares = pd.Series(y[order[:m]]).value_counts(normalize=True)
        np.testing.assert_allclose(shares.sort_index().to_numpy(), [1 / 6, 2 / 6, 3 / 6], atol=1.5 / m)


@pytest.fixture(scope="module")
def training(signal_data):
    features = build_features(signal_data.trajectories).labelled()
    return features.X, features.labels.astype(str), features.groups, features.layout


def test_forest_growth_out_of_bag_keeps_the_grown_forest(training):
    X, y, _, layout = training
    selection = select_model(CLASSIFIERS["rf"], X, y, layout=layout, random_state=0)
    forest = selection.model[-1]
    assert selection.params["max_features"] in MAX_FEATURES and selection.params["n_estimators"] in N_ESTIMATORS
    assert forest.n_estimators == len(forest.estimators_) == selection.params["n_estimators"]
    assert forest.max_features == selection.params["max_features"] and not forest.warm_start
    assert selection.score == pytest.approx(forest.oob_score_)
    assert "out of bag" in selection.method
    raced = selection.trace[selection.trace["budget"].str.startswith("race")]
    assert len(raced) == 2 * len(MAX_FEATURES)  # every setting at half and all of its race trees
    grown = selection.trace[selection.trace["budget"] == "growth"]
    assert grown["params"].str.contains(f'"n_estimators": {forest.n_estimators}').iloc[-1]
    assert np.mean(selection.model.predict(X) == y) == 1.0


def test_the_race_gives_every_setting_the_same_compute():
    # 507 features (the paper's): log2 considers 8 per split, sqrt 22, None all 507.
    trees = race_trees({"log2": 8, "sqrt": 22, None: 507})
    assert trees == {"log2": 128, "sqrt": 46, None: 16}
    assert all(n % 2 == 0 for n in trees.values())
    assert race_trees({"log2": 2, "sqrt": 2, None: 4}) == {"log2": 128, "sqrt": 128, None: 64}


def test_settings_tied_within_a_standard_error_go_to_the_cheapest():
    costs = {"sqrt": 22, "log2": 8, None: 507}
    extrapolated = {"sqrt": 0.700, "log2": 0.702, None: 0.710}
    assert cheapest_within_noise(extrapolated, costs, n=2_000) == "log2"  # standard error 0.010
    assert cheapest_within_noise(extrapolated, costs, n=100_000) is None  # standard error 0.0014
    # Extrapolated past 1 (2 x 1.0 - 0.95): clipped, so a setting one example short of it still ties.
    assert cheapest_within_noise({"sqrt": 0.99, "log2": 0.995, None: 1.05}, costs, n=200) == "log2"


def test_the_race_ranks_settings_by_extrapolated_accuracy():
    # Out-of-bag accuracy of paper-scale-like benchmark data at 50 and 100 trees (one split):
    # None leads at 100 trees, log2 is best extrapolated; on the test set log2 reached 0.855 (1,000 trees),
    # None 0.773 (200 trees).
    observed = {"sqrt": (0.627, 0.697), "log2": (0.609, 0.700), None: (0.654, 0.712)}
    extrapolated = {mf: asymptote(50, a, 100, b) for mf, (a, b) in observed.items()}
    assert max(observed, key=lambda mf: observed[mf][1]) is None
    assert max(extrapolated, key=extrapolated.get) == "log2"
    assert asymptote(50, 0.8, 100, 0.8) == pytest.approx(0.8)


def test_forest_growth_for_grouped_splits_scores_on_held_out_runs_and_refits(training):
    X, y, groups, layout = training
    selection = select_model(CLASSIFIERS["rf"], X, y, groups=groups, layout=layout, random_state=0)
    forest = selection.model[-1]
    assert "held-out runs" in selection.method and not hasattr(forest, "oob_score_")
    assert forest.n_estimators == selection.params["n_estimators"] and len(forest.estimators_) == forest.n_estimators
    assert forest.n_features_in_ == X.shape[1] and len(forest.classes_) == 4


def test_svm_screened_search_fits_the_svm_on_a_fraction_of_the_original_grid(training):
    X, y, _, layout = training
    selection = select_model(CLASSIFIERS["svm"], X, y, layout=layout, random_state=0)
    grid = CLASSIFIERS["svm"].grid(layout, int(len(X) * 0.8))
    sizes = [None, *grid[1]["n_components"]]
    assert selection.params["C"] in grid[0]["C"] and selection.params["n_components"] in sizes
    trace = selection.trace
    screened = trace[trace["budget"] == SCREEN]
    assert len(screened) == len(sizes) and screened["params"].str.contains('"C": 1.0').all()
    first = trace[trace["budget"] == SMALLEST_C]
    assert len(first) == 1 and first["params"].str.contains('"C": 1.0').all()
    best_screened = screened.sort_values("score", ascending=False, kind="stable")["params"].head(1)
    assert list(first["params"]) == list(best_screened)
    walked = trace[trace["budget"] == C_UPWARD]
    assert 1 <= len(walked) <= len(grid[0]["C"]) - 1
    svm_rows = trace[trace["budget"] != SCREEN]
    assert len(svm_rows) < len(sizes) * len(grid[0]["C"]) / 3
    assert selection.score == pytest.approx(svm_rows["score"].max()) and selection.score > 0.9


def test_the_svm_search_uses_as_many_inner_folds_as_give_enough_validation_examples():
    folds = [(np.arange(800), np.arange(800, 1000 + 10 * i)) for i in range(5)]  # 200, 210, ... validation rows
    assert len(enough_folds(folds, 2000)) == 5
    assert len(enough_folds(folds, 400)) == 2
    assert len(enough_folds(folds, 1)) == 1


def test_the_ridge_screen_equals_ridge_fitted_on_each_number_of_components():
    """Why one PCA per fold screens every size: ridge coefficients on orthogonal components do not
    depend on which other components are in the model."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 15)) @ rng.normal(size=(15, 15))
    y = np.array(["a", "b", "c"])[rng.integers(0, 3, size=120)]
    train, val = np.arange(90), np.arange(90, 120)
    task = SelectionTask(spec=CLASSIFIERS["svm"], X=X, y=y, groups=None, layout=None, folds=[(train, val)],
                         random_state=0, n_jobs=1)
    fold = prepare_fold(task, train, val)
    c = 0.05
    screened = ridge_accuracies(fold, [None, 3, 8], c)
    for k, accuracy in zip([None, 3, 8], screened, strict=True):
        a, b = (fold.x_train, fold.x_val) if k is None else (fold.z_train[:, :k], fold.z_val[:, :k])
        targets = np.where(y[train][:, None] == np.unique(y)[None], 1.0, -1.0)
        decision = Ridge(alpha=1 / (2 * c)).fit(a, targets).predict(b)
        assert accuracy == pytest.approx(np.mean(np.unique(y)[decision.argmax(axis=1)] == y[val]))


def test_principal_components_are_nested():
    """Why the SVM search fits one PCA per fold: the first k components of a full PCA are PCA(k)."""
    X = np.random.default_rng(0).normal(size=(80, 12)) @ np.random.default_rng(1).normal(size=(12, 12))
    full = PCA(n_components=12).fit(X).transform(X)
    np.testing.assert_allclose(np.abs(full[:, :4]), np.abs(PCA(n_components=4).fit(X).transform(X)), atol=1e-8)


def test_the_svm_uses_the_components_its_search_scored():
    """The search scores prefixes of one exact PCA per fold; the fitted model must project on the
    same subspace, even where scikit-learn would pick randomized PCA (over 500 examples, k < 80%)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(700, 200)) * np.linspace(1.1, 1.0, 200)  # a flat spectrum: randomized PCA drifts
    y = np.array(["a", "b"])[rng.integers(0, 2, size=700)]
    model = CLASSIFIERS["svm"].estimator(None, 0, 1).set_params(n_components=100).fit(X, y)
    exact = PCA(n_components=200, svd_solver="full").fit(X).components_[:100]
    cosines = np.linalg.svd(model.pca_.components_ @ exact.T, compute_uv=False)  # of the principal angles
    np.testing.assert_allclose(cosines, 1.0, atol=1e-8)


def test_the_exhaustive_grid_scores_every_candidate(training):
    X, y, groups, layout = training
    selection = select_model(CLASSIFIERS["svm"], X, y, groups=groups, layout=layout, exhaustive=True,
                             random_state=0)
    grid = CLASSIFIERS["svm"].grid(layout, min(len(tr) for tr, _ in _folds(X, y, groups)))
    assert len(selection.trace) == sum(len(g["C"]) * len(g["n_components"]) for g in grid)
    assert selection.score == pytest.approx(selection.trace["score"].max())
    assert selection.model[-1].get_params()["C"] == selection.params["C"]
    assert selection.method.startswith(f"exhaustive grid ({len(selection.trace)} candidates x 5 folds)")


def _folds(X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    from lrdecode.decoding.splits import inner_cv

    return list(inner_cv(y, groups, seed=0).split(X, y, groups))


@pytest.mark.slow  # reason: 15 grid points x 5 folds of forests up to 1,000 trees (about a minute)
def test_the_exhaustive_forest_grid(training):
    X, y, groups, layout = training
    selection = select_model(CLASSIFIERS["rf"], X, y, groups=groups, layout=layout, exhaustive=True, random_state=0)
    assert len(selection.trace) == len(MAX_FEATURES) * len(N_ESTIMATORS)
    assert selection.score == pytest.approx(selection.trace["score"].max())
    assert selection.model[-1].n_estimators == selection.params["n_estimators"]
