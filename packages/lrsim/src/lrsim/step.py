"""The compiled training step: task loss plus layer-local losses, gradients through the rule's
credit assignment, and the rule's stock optimizer.

The step computes the task loss plus every layer-local loss (the rule's B updates) and weight
decay, takes their gradients with the rule's custom credit assignment, and hands (gradient,
variable) pairs to the optimizer. `make_train_steps` runs many such steps in one compiled
call and stops early at a step that is not finite; the numbers are those of one call per step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

__all__ = ["make_train_step", "make_train_steps"]


def make_train_step(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    loss_fn: Callable[[keras.Model, Any], tf.Tensor],
) -> Callable[[Any], tuple[tf.Tensor, tf.Tensor, tf.Tensor]]:
    """A compiled step: gradients of task loss + `model.losses`, applied by `optimizer`.

    `model.losses` holds the layer-local losses of learned backward kernels and the weight
    decay. Returns (task loss, total loss, per-variable all-finite flags of the gradients).
    """
    variables = list(model.trainable_variables)

    @tf.function(reduce_retracing=True)
    def step(batch):
        with tf.GradientTape() as tape:
            task_loss = loss_fn(model, batch)
            extra = model.losses
            total = task_loss + tf.add_n(extra) if extra else task_loss
        grads = tape.gradient(total, variables)
        missing = [v.path for v, g in zip(variables, grads, strict=True) if g is None]
        if missing:
            raise ValueError(f"no gradient reaches the trainable variables {missing}; is every layer used by the loss?")
        finite = tf.stack([tf.reduce_all(tf.math.is_finite(g)) for g in grads])
        optimizer.apply(grads, variables)
        return task_loss, total, finite

    return step


def make_train_steps(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    loss_fn: Callable[[keras.Model, Any], tf.Tensor],
) -> Callable[[Any, tf.Tensor], tuple[tf.Tensor, tf.Tensor, tf.Tensor]]:
    """Up to `count` of `make_train_step`'s steps in one compiled call, on batches from `iterator`.

    The loop stops after the first step whose task loss, total loss or gradients are not all
    finite. Returns the task and total losses of the steps taken and the last step's
    per-variable finite flags. One call for many steps spares a hand-off between the Python
    thread and TensorFlow's per step: two runs side by side on two cores waited for those.
    """
    variables = list(model.trainable_variables)
    step = make_train_step(model, optimizer, loss_fn).python_function

    @tf.function(reduce_retracing=True)
    def steps(iterator, count):
        def one(done, finite_so_far, task_losses, totals, finite):
            task_loss, total, finite = step(next(iterator))
            ok = tf.reduce_all(finite) & tf.math.is_finite(task_loss) & tf.math.is_finite(total)
            return done + 1, ok, task_losses.write(done, task_loss), totals.write(done, total), finite

        start = (tf.constant(0), tf.constant(True), tf.TensorArray(tf.float32, size=count),
                 tf.TensorArray(tf.float32, size=count), tf.ones([len(variables)], tf.bool))
        done, _, task_losses, totals, finite = tf.while_loop(
            lambda done, ok, *_: (done < count) & ok, one, start)
        return task_losses.gather(tf.range(done)), totals.gather(tf.range(done)), finite

    return steps
