"""sgdm: backpropagation + SGD with momentum 0.9 (Sutskever et al. 2013)."""

from __future__ import annotations

from lrsim.rules.base import Backprop, LearningRule


def rule() -> LearningRule:
    """Backprop credit assignment (W^T) with SGD, momentum 0.9."""
    return LearningRule("sgdm", Backprop(), "sgd_momentum")
