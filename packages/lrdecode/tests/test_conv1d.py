"""The Conv1D MLP: built in fit, deterministic given random_state, numpy prediction equal to Keras's."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from lrdecode.classifiers.conv1d import Conv1DClassifier, kernel_sizes

pytest.importorskip("keras")


def data(n: int = 90, k: int = 6, statistics: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.repeat(["adam", "fa", "sgdm"], n // 3)
    trajectories = rng.normal(size=(n, statistics, k))
    trajectories[:, 0, k // 2:] += (y == "fa")[:, None] * 2.0  # the rule shows late in statistic 0
    onehot = np.eye(3)[rng.integers(0, 3, n)]
    return np.concatenate([trajectories.reshape(n, -1), onehot], axis=1), y


def small(**params: object) -> Conv1DClassifier:
    return Conv1DClassifier(n_checkpoints=6, n_static=3, epochs=40, batch_size=32, learning_rate=1e-2,
                            random_state=7, **params)


def test_the_network_is_built_in_fit_and_learns_the_rule():
    model = small(kernel_size=3, filters=8)
    assert not hasattr(model, "weights_")
    X, y = data()
    model.fit(X, y)
    kernel = model.weights_[0]
    assert kernel.shape == (3, 3 + 3, 8)  # kernel width x (statistics + position channels) x filters
    assert model.predict_proba(X).shape == (90, 3)
    assert np.mean(model.predict(X) == y) > 0.8
    assert model.n_epochs_ == 40 and len(model.loss_curve_) == 40


def test_deterministic_given_the_random_state_and_leaves_global_generators_alone():
    X, y = data()
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    first = small(pooling="max").fit(X, y).predict_proba(X)
    assert np.random.random() == before
    second = small(pooling="max").fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)
    other = Conv1DClassifier(n_checkpoints=6, n_static=3, epochs=40, batch_size=32, learning_rate=1e-2,
                             pooling="max", random_state=8).fit(X, y).predict_proba(X)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("pooling", [None, "max", "avg"])
def test_numpy_prediction_matches_keras(pooling):
    X, y = data()
    model = small(pooling=pooling, strides=2, kernel_size=2).fit(X, y)
    keras_logits = model._keras(model._sequence(X).astype(np.float32)).numpy()
    keras_proba = np.exp(keras_logits) / np.exp(keras_logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(X), keras_proba, atol=1e-5)


def test_warm_start_continues_training_and_pickles_without_keras():
    X, y = data()
    model = small(warm_start=True).set_params(epochs=10).fit(X, y)
    first_loss = model.loss_curve_[-1]
    model.fit(X, y)
    assert model.n_epochs_ == 20 and model.loss_curve_[-1] < first_loss
    restored = pickle.loads(pickle.dumps(model))
    assert "_keras" not in restored.__dict__
    np.testing.assert_array_equal(restored.predict_proba(X), model.predict_proba(X))
    restored.fit(X, y)  # rebuilds the network from the saved weights and goes on
    assert restored.n_epochs_ == 30


def test_kernels_longer_than_the_trajectory_are_cut_and_grid_sizes_follow_the_original():
    assert kernel_sizes(21) == [1, 2, 6, 11, 21]
    X, y = data()
    model = small(kernel_size=21, strides=4).set_params(epochs=2).fit(X, y)
    assert model.weights_[0].shape[0] == 6


def test_bad_settings_are_refused():
    X, y = data()
    with pytest.raises(ValueError, match="pooling"):
        small(pooling="median").fit(X, y)
    with pytest.raises(ValueError, match="do not split"):
        Conv1DClassifier(n_checkpoints=7, n_static=3, epochs=1).fit(X, y)
