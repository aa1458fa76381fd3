"""Conv1D MLP: one convolution over the (checkpoints x statistics) sequence, then a softmax
layer (Keras 3; TensorFlow is the optional ``conv1d`` extra, imported only when fitting).

Prediction runs the learned weights through the same arithmetic in numpy, so a saved model
predicts without TensorFlow and exactly alike whatever the batch.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from lrdecode.classifiers.base import ClassifierSpec
from lrdecode.decoding.features import FeatureLayout, to_sequence
from lrdecode.decoding.model_selection import Selection, SelectionTask, grid_candidates, halving_budgets
from lrdecode.decoding.model_selection import successive_halving as race
from lrdecode.errors import DecodeError

KERNEL_FRACTIONS: tuple[float, ...] = (3e-3, 7e-3, 5e-2, 0.25, 0.5, 1.0)
STRIDES: tuple[int, ...] = (1, 2, 4)
FILTERS: tuple[int, ...] = (20, 40)
POOLING: tuple[str | None, ...] = (None, "max", "avg")
LEARNING_RATES: tuple[float, ...] = (1e-3, 1e-4)
BATCH_SIZES: tuple[int, ...] = (512, 1024)
WEIGHT_DECAYS: tuple[float, ...] = (1e-4, 0.0)
EPOCHS = 400
FAST_CANDIDATES = 9  # candidates drawn from the grid for the default search
FAST_MAX_EPOCHS = 90  # epochs of the last halving rung


def import_keras() -> Any:
    """Keras 3 (TensorFlow backend), or a clear error naming the extra to install."""
    try:
        import os

        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import keras
    except ImportError:
        raise DecodeError("the Conv1D classifier needs TensorFlow (Keras 3), which is not installed",
                          "pip install 'lrdecode[conv1d]', or choose another classifier (rf, svm, logreg, hgb)"
                          ) from None
    return keras


@contextlib.contextmanager
def seeded(keras: Any, seed: int) -> Iterator[None]:
    """Seed Keras/TensorFlow for one fit, leaving numpy's and Python's global generators as they were."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


class Conv1DClassifier(ClassifierMixin, BaseEstimator):
    """One Conv1D layer (ReLU) over checkpoints, optional global pooling, then a softmax layer.

    Rows of X are statistic-major trajectories (``n_checkpoints`` values per statistic)
    followed by ``n_static`` features constant in time (the layer position), which are
    repeated along the sequence. With ``n_checkpoints=None`` a row is one sequence of one
    channel. Kernel sizes and strides longer than the sequence are cut to its length.
    Trained with Adam on the cross-entropy plus ``weight_decay``/2 x the squared weights (the
    original's TF1 l2_regularizer); deterministic given ``random_state``. With
    ``warm_start=True`` a second fit continues training for ``epochs`` more.
    """

    def __init__(self, n_checkpoints: int | None = None, n_static: int = 0, filters: int = 20,
                 kernel_size: int = 3, strides: int = 1, pooling: str | None = None,
                 learning_rate: float = 1e-3, weight_decay: float = 0.0, batch_size: int = 512,
                 epochs: int = EPOCHS, warm_start: bool = False, random_state: int | None = None) -> None:
        self.n_checkpoints = n_checkpoints
        self.n_static = n_static
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.pooling = pooling
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.warm_start = warm_start
        self.random_state = random_state

    def _sequence(self, X: np.ndarray) -> np.ndarray:
        if self.n_checkpoints is None:
            return X[:, :, None]
        return to_sequence(X, self.n_checkpoints, self.n_static)

    def fit(self, X: Any, y: Any) -> Conv1DClassifier:
        continuing = self.warm_start and hasattr(self, "weights_")
        X, y = validate_data(self, X, y, reset=not continuing)
        check_classification_targets(y)
        classes, y_index = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"Conv1DClassifier needs examples of at least 2 classes; y has 1 class ({classes[0]})")
        if self.pooling not in POOLING:
            raise ValueError(f"pooling must be one of {POOLING}, not {self.pooling!r}")
        if continuing and not np.array_equal(classes, self.classes_):
            raise ValueError("warm_start: y has other classes than the first fit")
        sequence = self._sequence(X).astype(np.float32)
        keras = import_keras()
        if not continuing:
            self.seed_ = int(check_random_state(self.random_state).randint(2**31 - 1))
            self.classes_ = classes
            self.sequence_shape_ = sequence.shape[1:]
            self.n_epochs_ = 0
            self.loss_curve_: list[float] = []
        with seeded(keras, self.seed_ + self.n_epochs_):
            model = self.__dict__.get("_keras") if continuing else None
            if model is None:
                model = self._build(keras)
            history = model.fit(sequence, y_index, batch_size=min(self.batch_size, len(sequence)),
                                epochs=self.epochs, shuffle=True, verbose=0)
        self._keras = model
        self.loss_curve_ = [*self.loss_curve_, *map(float, history.history["loss"])]
        self.n_epochs_ += self.epochs
        self.weights_ = [np.asarray(w, dtype=np.float64) for w in model.get_weights()]
        return self

    def _build(self, keras: Any) -> Any:
        length, channels = self.sequence_shape_
        kernel, stride = min(self.kernel_size, length), min(self.strides, length)
        regularizer = keras.regularizers.L2(self.weight_decay / 2) if self.weight_decay else None
        pooling = {"max": keras.layers.GlobalMaxPooling1D, "avg": keras.layers.GlobalAveragePooling1D,
                   None: keras.layers.Flatten}[self.pooling]
        model = keras.Sequential([
            keras.Input((length, channels)),
            keras.layers.Conv1D(self.filters, kernel, strides=stride, padding="valid", activation="relu",
                                kernel_regularizer=regularizer, bias_regularizer=regularizer),
            pooling(),
            keras.layers.Dense(len(self.classes_), kernel_regularizer=regularizer, bias_regularizer=regularizer),
        ])
        if hasattr(self, "weights_") and self.warm_start:
            model.set_weights(self.weights_)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=self.learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=False)
        return model

    def _logits(self, X: Any) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        sequence = self._sequence(np.asarray(X, dtype=np.float64))
        conv_kernel, conv_bias, dense_kernel, dense_bias = self.weights_
        width = conv_kernel.shape[0]
        stride = min(self.strides, self.sequence_shape_[0])
        windows = np.lib.stride_tricks.sliding_window_view(sequence, width, axis=1)[:, ::stride]  # (n, t, c, k)
        hidden = np.maximum(np.einsum("ntck,kcf->ntf", windows, conv_kernel) + conv_bias, 0.0)
        if self.pooling == "max":
            hidden = hidden.max(axis=1)
        elif self.pooling == "avg":
            hidden = hidden.mean(axis=1)
        else:
            hidden = hidden.reshape(len(hidden), -1)
        return hidden @ dense_kernel + dense_bias

    def predict_proba(self, X: Any) -> np.ndarray:
        logits = self._logits(X)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        logits = self._logits(X)
        return self.classes_[logits.argmax(axis=1)]

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_keras", None)  # the weights are in weights_; Keras objects are not saved
        return state


def kernel_sizes(n_checkpoints: int) -> list[int]:
    """The original kernel sizes: fractions of the trajectory, rounded up, without repeats."""
    return sorted({int(np.ceil(f * n_checkpoints)) for f in KERNEL_FRACTIONS})


def estimator(layout: FeatureLayout | None, random_state: int | None, n_jobs: int) -> Conv1DClassifier:
    if layout is None:
        return Conv1DClassifier(random_state=random_state)
    return Conv1DClassifier(n_checkpoints=layout.n_checkpoints, n_static=len(layout.static),
                            random_state=random_state)


def grid(layout: FeatureLayout | None, n_train: int) -> list[dict[str, Sequence[Any]]]:
    """The original grid (720 points of 400 epochs each)."""
    length = layout.n_checkpoints if layout is not None else 21
    return [{"learning_rate": list(LEARNING_RATES), "epochs": [EPOCHS], "kernel_size": kernel_sizes(length),
             "batch_size": list(BATCH_SIZES), "filters": list(FILTERS), "strides": list(STRIDES),
             "pooling": list(POOLING), "weight_decay": list(WEIGHT_DECAYS)}]


def halving(task: SelectionTask, eta: int = 3) -> Selection:
    """Successive halving over epochs for a seeded sample of the grid, training warm-started
    between rungs, scored on one held-out inner fold; the winner is refit on all the data."""
    from sklearn.preprocessing import StandardScaler

    everything = grid_candidates(grid(task.layout, len(task.X)))
    rng = np.random.default_rng(task.random_state)
    picked = rng.choice(len(everything), size=min(FAST_CANDIDATES, len(everything)), replace=False)
    candidates = [{k: v for k, v in everything[i].items() if k != "epochs"} for i in sorted(picked)]
    train, val = task.folds[0]
    scaler = StandardScaler().fit(task.X[train])
    x_train, x_val = scaler.transform(task.X[train]), scaler.transform(task.X[val])
    models: dict[int, Conv1DClassifier] = {}

    def score(i: int, budget: float) -> float:
        model = models.get(i)
        if model is None:
            model = models[i] = estimator(task.layout, task.random_state, task.n_jobs).set_params(
                warm_start=True, **candidates[i])
        model.set_params(epochs=int(budget) - getattr(model, "n_epochs_", 0)).fit(x_train, task.y[train])
        return float(np.mean(model.predict(x_val) == task.y[val]))

    budgets = [int(b) for b in halving_budgets(len(candidates), FAST_MAX_EPOCHS, 5, eta)]
    best, best_score, trace = race(candidates, score, budgets, eta)
    params = {**candidates[best], "epochs": budgets[-1]}
    model = task.pipeline(**params).fit(task.X, task.y)
    return Selection(model=model, params=params, score=best_score,
                     method=f"successive halving over epochs ({len(candidates)} of the {len(everything)} grid "
                            f"points, warm-started, one held-out inner fold)", trace=trace)


SPEC = ClassifierSpec(
    name="conv1d",
    label="Conv1D MLP",
    estimator=estimator,
    grid=grid,
    select=halving,
    selection=f"successive halving over epochs (up to {FAST_MAX_EPOCHS}) for {FAST_CANDIDATES} grid points, "
              "warm-started, on one held-out inner fold",
    extra="tensorflow",
)
