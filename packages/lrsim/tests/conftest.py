"""Shared fixtures of the lrsim tests: a small Task over scikit-learn's bundled 8x8 digits.

`TinyDigits` is written here, against the Task contract alone, so that the engine's tests do
not depend on the task implementations in `lrsim.tasks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from lrsim.tasks.base import Task


class TinyDigits(Task):
    """8x8x1 digits in [0, 1], 10 classes; a fixed 80/20 train/test split (seed 0)."""

    name = "tiny-digits"
    input_shape = (8, 8, 1)
    num_outputs = 10
    kind = "supervised"
    metric_name = "top1_accuracy"

    def __init__(self, n_train: int | None = None) -> None:
        digits = load_digits()
        images = (digits.images / 16.0).astype(np.float32)[..., None]
        labels = digits.target.astype(np.int32)
        order = np.random.default_rng(0).permutation(len(labels))
        cut = int(0.8 * len(labels))
        train, test = order[:cut], order[cut:]
        if n_train is not None:
            train = train[:n_train]
        self.x_train, self.y_train = images[train], labels[train]
        self.x_test, self.y_test = images[test], labels[test]

    def steps_per_epoch(self, batch_size: int) -> int:
        return len(self.y_train) // batch_size

    def train_batches(self, batch_size: int, dataset_seed: int, epoch: int) -> tf.data.Dataset:
        order = np.random.default_rng([dataset_seed, epoch]).permutation(len(self.y_train))
        order = order[: self.steps_per_epoch(batch_size) * batch_size]
        data = tf.data.Dataset.from_tensor_slices((self.x_train[order], self.y_train[order]))
        return data.batch(batch_size, drop_remainder=True)

    def loss(self, model: keras.Model, batch: Any, training: bool = True) -> tf.Tensor:
        images, labels = batch
        logits = model(images, training=training)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))

    def evaluate(self, model: keras.Model, batch_size: int = 256) -> float:
        logits = np.concatenate(
            [model(self.x_test[i : i + batch_size], training=False) for i in range(0, len(self.y_test), batch_size)]
        )
        return float(np.mean(np.argmax(logits, axis=-1) == self.y_test))

    def probe_inputs(self, n: int, seed: int = 0) -> np.ndarray:
        pick = np.random.default_rng(seed).choice(len(self.y_test), size=n, replace=False)
        return self.x_test[pick]


@pytest.fixture(scope="session")
def digits() -> TinyDigits:
    """The digits task (1,437 training and 360 test images)."""
    return TinyDigits()


#: short CPU runs on the digits (batch 32, constant learning rate from the table)
SHORT_RUNS = {"knet4": {"width": 0.5, "epochs": 8}, "resnet18": {"width": 0.125, "epochs": 3}}


@dataclass
class ShortRun:
    """One short training run: its trainer, result, and B-W angles before and after."""

    trainer: Any
    result: Any
    angles_before: np.ndarray
    angles_after: np.ndarray


def feedback_angles(network: Any) -> np.ndarray:
    """Angle in degrees between W and B^T (dense) or B (conv) of every recorded layer."""
    angles = []
    for recorded in network.recorded:
        w = recorded.layer.kernel.numpy().astype(np.float64)
        b = recorded.layer.feedback.numpy().astype(np.float64)
        b = b.T if w.ndim == 2 else b
        cosine = np.sum(w * b) / (np.linalg.norm(w) * np.linalg.norm(b))
        angles.append(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))
    return np.array(angles)


@pytest.fixture(scope="session")
def digits_subset():
    """n_train -> the digits task with only its first n_train training images."""
    return lambda n_train: TinyDigits(n_train=n_train)


@pytest.fixture(scope="session")
def short_run(digits: TinyDigits):
    """run(architecture, rule) -> ShortRun, trained once per session (model and dataset seed 0)."""
    from lrsim.training import TrainConfig, Trainer

    cache: dict[tuple[str, str], ShortRun] = {}

    def run(architecture: str, rule: str) -> ShortRun:
        if (architecture, rule) not in cache:
            settings = SHORT_RUNS[architecture]
            config = TrainConfig(
                architecture,
                rule,
                epochs=settings["epochs"],
                batch_size=32,
                width=settings["width"],
                model_seed=0,
                dataset_seed=0,
                schedule="constant",
            )
            trainer = Trainer(digits, config)
            uses_b = trainer.rule.credit.uses_feedback
            before = feedback_angles(trainer.network) if uses_b else np.array([])
            result = trainer.fit()
            after = feedback_angles(trainer.network) if uses_b else np.array([])
            cache[architecture, rule] = ShortRun(trainer, result, before, after)
        return cache[architecture, rule]

    return run
