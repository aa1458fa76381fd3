"""ia: information alignment (Kunin et al. 2020) + SGD with momentum 0.9.

Each layer's error crosses through B, and B learns by descending its layer-local loss

    alpha * amp + beta * null + gamma * decay,
    amp   = -mean_batch sum_j (x W)_j (x B^T)_j     (B^T aligns with W on the data)
    null  =  mean_batch ||(x W) B||^2               (B is blind to W's null space)
    decay =  ||W||^2 + ||B||^2

with x and W held constant (stop-gradient). Convolutions use the same terms with the
convolution P(x, K) in place of x K and the transposed convolution in place of y B.
Defaults alpha 2e-3, beta 1e-3, gamma 1e-3 (docs/REGIMES.md, Rule definitions).

The gradient with respect to B is written in closed form with the adjoint identity of
`lrsim.ops.LinearOps`: with Y = P(x, W) and R = Y B,

    dL/dB = (1/n) G(-alpha x + 2 beta R, Y) + 2 gamma B,   G = feedback_gradient,

two linear ops per step instead of the four an autodiff of the literal loss costs; the
loss value comes from the same tensors, since <B, G(a, Y)> = <P(a, B), Y>.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from lrsim.ops import LinearOps
from lrsim.rules.base import CreditAssignment, LearningRule

DEFAULTS = {"alpha": 2e-3, "beta": 1e-3, "gamma": 1e-3}


def information_alignment_loss(
    x: tf.Tensor,
    kernel: tf.Tensor,
    feedback: tf.Tensor,
    projection: tf.Tensor,
    ops: LinearOps,
    alpha: float,
    beta: float,
    gamma: float,
) -> tf.Tensor:
    """alpha * amp + beta * null + gamma * decay; differentiable in `feedback` only.

    `projection` is P(x, W), the layer's linear output for input `x`.
    """
    x = tf.stop_gradient(x)
    kernel = tf.stop_gradient(kernel)
    y = tf.stop_gradient(projection)
    n = tf.cast(tf.shape(x)[0], x.dtype)

    @tf.custom_gradient
    def loss(feedback):
        r = ops.backward(y, feedback, x)
        null = tf.reduce_sum(tf.square(r)) / n
        g = ops.feedback_gradient(-alpha * x + (2.0 * beta) * r, y) / n
        # <B, g> = alpha * amp + 2 beta * null
        value = (
            tf.reduce_sum(feedback * g)
            - beta * null
            + gamma * (tf.reduce_sum(tf.square(kernel)) + tf.reduce_sum(tf.square(feedback)))
        )

        def grad(upstream):
            return upstream * (g + (2.0 * gamma) * feedback)

        return value, grad

    return loss(feedback)


@keras.saving.register_keras_serializable(package="lrsim")
class InformationAlignment(CreditAssignment):
    """The error crosses through B; B descends alpha*amp + beta*null + gamma*decay."""

    name = "ia"
    uses_feedback = True
    feedback_trainable = True

    def __init__(
        self, alpha: float = DEFAULTS["alpha"], beta: float = DEFAULTS["beta"], gamma: float = DEFAULTS["gamma"]
    ) -> None:
        for key, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
            if float(value) < 0:
                raise ValueError(f"ia: coefficient {key} must be >= 0, got {value!r}")
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.gamma = float(gamma)

    def local_loss(
        self,
        x: tf.Tensor,
        kernel: tf.Tensor,
        feedback: tf.Tensor,
        projection: tf.Tensor,
        ops: LinearOps,
        kernel_l2: float,
    ) -> tf.Tensor:
        return information_alignment_loss(x, kernel, feedback, projection, ops, self.alpha, self.beta, self.gamma)

    def get_config(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "beta": self.beta, "gamma": self.gamma}


def rule(
    alpha: float = DEFAULTS["alpha"], beta: float = DEFAULTS["beta"], gamma: float = DEFAULTS["gamma"]
) -> LearningRule:
    """Information alignment with SGD, momentum 0.9 on W and B."""
    return LearningRule("ia", InformationAlignment(alpha=alpha, beta=beta, gamma=gamma), "sgd_momentum")
