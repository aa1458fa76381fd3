"""fa: feedback alignment (Lillicrap et al. 2016) + SGD with momentum 0.9.

Each dense/conv layer sends the error back through a fixed random matrix B drawn at
initialization (same distribution as W, independent draw). B is not trainable: the optimizer
never sees it, so it stays bit-identical for the whole run. W learns from x^T dy as usual.
"""

from __future__ import annotations

import keras

from lrsim.rules.base import CreditAssignment, LearningRule


@keras.saving.register_keras_serializable(package="lrsim")
class FeedbackAlignment(CreditAssignment):
    """The error crosses each layer through a fixed random B."""

    name = "fa"
    uses_feedback = True
    feedback_trainable = False


def rule() -> LearningRule:
    """Feedback alignment with SGD, momentum 0.9 on W."""
    return LearningRule("fa", FeedbackAlignment(), "sgd_momentum")
