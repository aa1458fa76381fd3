"""adam: backpropagation + Adam (Kingma and Ba 2014), Keras defaults besides the learning rate."""

from __future__ import annotations

from lrsim.rules.base import Backprop, LearningRule


def rule() -> LearningRule:
    """Backprop credit assignment (W^T) with Adam."""
    return LearningRule("adam", Backprop(), "adam")
