"""Multinomial logistic regression: a linear decoder with calibrated probabilities, cheap to fit
(the paper had none; it is the natural baseline for a decoder that reports probabilities)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.linear_model import LogisticRegression

from lrdecode.classifiers.base import ClassifierSpec
from lrdecode.decoding.features import FeatureLayout
from lrdecode.decoding.model_selection import Selection, SelectionTask, grid_candidates, halving_search

C_VALUES: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def estimator(layout: FeatureLayout | None, random_state: int | None, n_jobs: int) -> LogisticRegression:
    return LogisticRegression(C=1.0, max_iter=5000, random_state=random_state)


def grid(layout: FeatureLayout | None, n_train: int) -> list[dict[str, Sequence[Any]]]:
    return [{"C": list(C_VALUES)}]


def halving(task: SelectionTask) -> Selection:
    return halving_search(task, grid_candidates(grid(task.layout, len(task.X))))


SPEC = ClassifierSpec(
    name="logreg",
    label="logistic regression",
    estimator=estimator,
    grid=grid,
    select=halving,
    selection="successive halving over training examples on the C grid",
)
