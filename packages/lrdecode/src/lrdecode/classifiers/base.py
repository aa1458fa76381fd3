"""What the protocol needs to know about a classifier (a registry entry)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sklearn.base import BaseEstimator

from lrdecode.features import FeatureLayout

if TYPE_CHECKING:
    from lrdecode.model_selection import Selection, SelectionTask


@dataclass(frozen=True)
class ClassifierSpec:
    """A classifier as the protocol uses it.

    estimator: builds the unfitted estimator with default hyperparameters, given the feature
        layout (None for plain 2-D data), a random state and a number of jobs.
    grid: the exhaustive grid (the original study's where it had one) as GridSearchCV takes
        it, given the layout and the number of examples in the smallest inner training fold.
    select: the default model selection (cheaper than the grid, same accuracy).
    """

    name: str
    label: str
    estimator: Callable[[FeatureLayout | None, int | None, int], BaseEstimator]
    grid: Callable[[FeatureLayout | None, int], list[dict[str, Sequence[Any]]]]
    select: Callable[[SelectionTask], Selection]
    selection: str
    extra: str | None = None
    gini: bool = False
