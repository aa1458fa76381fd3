"""grad: layer-wise activity change, g = (1/N_out) sum_i sum_j dy_j/dx_i per probe example.

Computed by automatic differentiation of the layer's exact forward function (kernel op,
bias and fused activation), whatever the learning rule: under feedback alignment the
layer's training gradient sends errors through B, but this observable is the true
derivative of its outputs with respect to its inputs (a paired pre/post recording).
One backward pass gives every example's sum over outputs: the gradient of sum_j y_j
with respect to x, since examples do not interact in a dense or conv layer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from lrsim.observables.statistics import grad_statistics
from shared_schema import MeasurementSetting
from shared_schema.measurement import measured_activity_change


def output_sums(
    forward: Callable[[tf.Tensor], tf.Tensor], inputs: np.ndarray | tf.Tensor, outputs: np.ndarray | None = None
) -> np.ndarray:
    """d(sum of the chosen outputs)/dx_i per example: shape (examples, input units).

    outputs: indices of the measured output units in the flattened output (None = all).
    """
    x = tf.convert_to_tensor(inputs)
    if not x.dtype.is_floating:
        x = tf.cast(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reshape(forward(x), (tf.shape(x)[0], -1))
        if outputs is not None:
            y = tf.gather(y, outputs, axis=1)
        total = tf.reduce_sum(y)
    jacobian_sums = tape.gradient(total, x)
    return tf.reshape(jacobian_sums, (tf.shape(x)[0], -1)).numpy()


def grad_observables(
    forward: Callable[[tf.Tensor], tf.Tensor],
    inputs: np.ndarray | tf.Tensor,
    n_outputs: int,
    setting: MeasurementSetting,
    *,
    run_id: str,
    layer: str,
    checkpoint: int,
    full_sums: np.ndarray | None = None,
) -> tuple[dict[str, float], int, int]:
    """The 3 grad statistics under a setting, and (output units measured, output units).

    full_sums: the sums over all outputs when already computed (settings measuring every
    output unit reuse them; others differentiate the sum of their own output units).
    """
    where = {"run_id": run_id, "layer": layer, "checkpoint": checkpoint}
    measured = setting.unit_indices(n_outputs, run_id=run_id, layer=layer, stream="grad_out")
    if measured.size == n_outputs and full_sums is not None:
        sums = full_sums
    else:
        sums = output_sums(forward, inputs, None if measured.size == n_outputs else measured)
    g = measured_activity_change(sums, measured.size, setting, **where)
    return grad_statistics(g), measured.size, n_outputs
