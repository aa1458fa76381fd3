"""kp: Kolen-Pollack (Kolen and Pollack 1994; Akrout et al. 2019; Kunin et al. 2020) + SGD momentum.

B starts random and receives exactly W's local update, transposed: the core op hands
``dB = (x^T dy)^T`` to B alongside ``dW = x^T dy`` (both local to the layer), and B decays
like W: its layer-local loss is ``decay * ||B||^2``. With ``decay`` left at None it takes the
layer's own L2 weight-decay coefficient on W, so W and B see identical updates and B - W^T
shrinks geometrically (Akrout et al. 2019, eq. 6-7).
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from lrsim.ops import LinearOps
from lrsim.rules.base import CreditAssignment, LearningRule


@keras.saving.register_keras_serializable(package="lrsim")
class KolenPollack(CreditAssignment):
    """B learns by W's transposed local update plus weight decay."""

    name = "kp"
    uses_feedback = True
    feedback_trainable = True
    tied = True

    def __init__(self, decay: float | None = None) -> None:
        if decay is not None and float(decay) < 0:
            raise ValueError(f"kp: decay must be >= 0 (or None to match W's weight decay), got {decay!r}")
        self.decay = None if decay is None else float(decay)

    def local_loss(
        self,
        x: tf.Tensor,
        kernel: tf.Tensor,
        feedback: tf.Tensor,
        projection: tf.Tensor,
        ops: LinearOps,
        kernel_l2: float,
    ) -> tf.Tensor | None:
        decay = kernel_l2 if self.decay is None else self.decay
        if decay == 0.0:
            return None
        return decay * tf.reduce_sum(tf.square(feedback))

    def get_config(self) -> dict[str, Any]:
        return {"decay": self.decay}


def rule(decay: float | None = None) -> LearningRule:
    """Kolen-Pollack with SGD, momentum 0.9 on W and B."""
    return LearningRule("kp", KolenPollack(decay=decay), "sgd_momentum")
