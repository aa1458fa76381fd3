"""The linear ops whose backward pass is a learning rule's credit assignment.

The core ops take the forward kernel W and the backward kernel B as explicit arguments inside
a `tf.custom_gradient`: forward ``y = x @ W`` (or ``conv(x, W)``), backward ``dx = dy @ B``
(or the transposed convolution of ``dy`` with B) and ``dW = x^T dy``. `LinearOps` gives the
three linear maps of a layer that layer-local rules (`lrsim.rules`) write B's losses with.

Kernel shapes: a dense layer has W of shape (d_in, d_out) and B of shape (d_out, d_in); a
convolution has W and B both of shape (kh, kw, c_in, c_out), and the error goes back through
the transposed convolution with B.

Imports flow one way: `lrsim.ops` -> `lrsim.rules` (credit assignments, learning rules) ->
`lrsim.layers` (the Keras layers that call these ops with a rule's credit assignment).
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

__all__ = ["ConvOps", "DenseOps", "LinearOps", "feedback_conv2d", "feedback_matmul"]


def feedback_matmul(x: tf.Tensor, kernel: tf.Tensor, feedback: tf.Tensor, tied: bool = False) -> tf.Tensor:
    """``x @ kernel`` whose input gradient goes back through ``feedback`` (d_out x d_in).

    Backward: ``dx = dy @ feedback``, ``dkernel = x^T dy``; ``dfeedback = dkernel^T`` when
    `tied` (Kolen-Pollack), otherwise no gradient reaches `feedback` through this op.
    """

    @tf.custom_gradient
    def op(x, kernel, feedback):
        def grad(dy):
            dx = tf.matmul(dy, feedback)
            dkernel = tf.matmul(x, dy, transpose_a=True)
            return dx, dkernel, (tf.transpose(dkernel) if tied else None)

        return tf.matmul(x, kernel), grad

    return op(x, kernel, feedback)


def feedback_conv2d(
    x: tf.Tensor,
    kernel: tf.Tensor,
    feedback: tf.Tensor,
    strides: Sequence[int],
    padding: str,
    tied: bool = False,
) -> tf.Tensor:
    """``conv2d(x, kernel)`` whose input gradient is the transposed convolution with `feedback`.

    `strides` is (sh, sw); `padding` is "SAME" or "VALID". Backward: ``dx =
    conv2d_transpose(dy, feedback)``, ``dkernel = conv2d_backprop_filter(x, dy)``;
    ``dfeedback = dkernel`` when `tied` (Kolen-Pollack), otherwise none.
    """
    strides4 = [1, int(strides[0]), int(strides[1]), 1]

    @tf.custom_gradient
    def op(x, kernel, feedback):
        def grad(dy):
            dx = tf.nn.conv2d_transpose(dy, feedback, tf.shape(x), strides4, padding)
            dkernel = tf.raw_ops.Conv2DBackpropFilter(
                input=x, filter_sizes=tf.shape(kernel), out_backprop=dy, strides=strides4, padding=padding
            )
            return dx, dkernel, (dkernel if tied else None)

        return tf.nn.conv2d(x, kernel, strides4, padding), grad

    return op(x, kernel, feedback)


class LinearOps:
    """The three linear maps of a layer that layer-local rules are written with.

    With P(x, K) the layer's forward map, the maps satisfy the adjoint identity
    ``<y, P(x, B)> = <B, feedback_gradient(x, y)>`` (for a dense layer P(x, B) means
    ``x @ B^T``), so rules can write losses and their gradients with respect to B in
    closed form, whatever the layer type.
    """

    def forward(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        """The forward projection P(x, W)."""
        raise NotImplementedError

    def backward(self, y: tf.Tensor, feedback: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
        """Send `y` (output-shaped) back to input shape (that of `like`) through B."""
        raise NotImplementedError

    def feedback_gradient(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        """Gradient of ``<y, P(x, B)>`` with respect to B (B's shape)."""
        raise NotImplementedError


class DenseOps(LinearOps):
    """Linear maps of a dense layer: W is (d_in, d_out), B is (d_out, d_in)."""

    def forward(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        return tf.matmul(x, kernel)

    def backward(self, y: tf.Tensor, feedback: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
        return tf.matmul(y, feedback)

    def feedback_gradient(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        return tf.matmul(y, x, transpose_a=True)


class ConvOps(LinearOps):
    """Linear maps of a convolution: W and B are both (kh, kw, c_in, c_out)."""

    def __init__(self, strides: Sequence[int], padding: str, kernel_shape: Sequence[int]) -> None:
        self.strides4 = [1, int(strides[0]), int(strides[1]), 1]
        self.padding = padding
        self.kernel_shape = [int(d) for d in kernel_shape]

    def forward(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        return tf.nn.conv2d(x, kernel, self.strides4, self.padding)

    def backward(self, y: tf.Tensor, feedback: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
        return tf.nn.conv2d_transpose(y, feedback, tf.shape(like), self.strides4, self.padding)

    def feedback_gradient(self, x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        return tf.raw_ops.Conv2DBackpropFilter(
            input=x, filter_sizes=self.kernel_shape, out_backprop=y, strides=self.strides4, padding=self.padding
        )
