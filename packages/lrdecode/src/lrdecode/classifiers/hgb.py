"""Histogram gradient boosting: a second non-linear decoder beside the forest, often more
accurate per unit of compute, with early stopping on a validation share when data are large."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sklearn.ensemble import HistGradientBoostingClassifier

from lrdecode.classifiers.base import ClassifierSpec
from lrdecode.decoding.features import FeatureLayout
from lrdecode.decoding.model_selection import Selection, SelectionTask, grid_candidates, halving_search

LEARNING_RATES: tuple[float, ...] = (0.05, 0.1, 0.2)
MAX_LEAF_NODES: tuple[int, ...] = (15, 31, 63)
L2: tuple[float, ...] = (0.0, 1.0)


def estimator(layout: FeatureLayout | None, random_state: int | None, n_jobs: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(random_state=random_state)


def grid(layout: FeatureLayout | None, n_train: int) -> list[dict[str, Sequence[Any]]]:
    return [{"learning_rate": list(LEARNING_RATES), "max_leaf_nodes": list(MAX_LEAF_NODES),
             "l2_regularization": list(L2)}]


def halving(task: SelectionTask) -> Selection:
    return halving_search(task, grid_candidates(grid(task.layout, len(task.X))))


SPEC = ClassifierSpec(
    name="hgb",
    label="gradient boosting",
    estimator=estimator,
    grid=grid,
    select=halving,
    selection="successive halving over training examples on an 18-point grid",
)
