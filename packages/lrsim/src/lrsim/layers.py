"""Credit-assignment layers: dense and convolution layers whose backward pass is the learning rule.

A learning rule decides how the error crosses each dense or convolution layer: the layers
call the core ops of `lrsim.ops` with the forward kernel W and the backward kernel B that the
layer's `CreditAssignment` (`lrsim.rules`) asks for. Backprop passes ``B = W^T``; feedback
alignment passes a fixed random B; information alignment and Kolen-Pollack pass a B that
learns by its own layer-local rule.

A layer's `call` is its whole forward function (padding, linear op, bias, activation).
Differentiating `layer.call(x)` with respect to `x` goes through the rule's backward pass
(through B under FA, IA and KP), as the original study's `tf.gradients` through its custom
ops did; `layer.forward(x)` computes the same values with TensorFlow's own gradients, whose
derivative is the true Jacobian dy/dx whatever the rule. Layer-local losses are only added
when the layer is called with ``training=True``.

`Backprop`, `CreditAssignment` and the ops are re-exported here, for code that imports them from `lrsim.layers`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

import lrsim.rules  # noqa: F401  (registers every rule's credit assignment, for deserialization)
from lrsim.ops import ConvOps, DenseOps, LinearOps, feedback_conv2d, feedback_matmul
from lrsim.rules.base import Backprop, CreditAssignment

__all__ = [
    "Backprop",
    "ConvOps",
    "CreditAssignment",
    "DenseOps",
    "FeedbackConv2D",
    "FeedbackDense",
    "LinearOps",
    "feedback_conv2d",
    "feedback_matmul",
    "kernel_l2_coefficient",
]


def _resolve_credit(credit: CreditAssignment | dict[str, Any] | None) -> CreditAssignment:
    if credit is None:
        return Backprop()
    if isinstance(credit, CreditAssignment):
        return credit
    if isinstance(credit, dict):
        obj = keras.saving.deserialize_keras_object(credit)
        if isinstance(obj, CreditAssignment):
            return obj
    raise TypeError(
        f"credit must be a CreditAssignment (e.g. lrsim.rules.get_rule('fa').credit), its serialized "
        f"dict, or None for backprop; got {credit!r}"
    )


def kernel_l2_coefficient(regularizer: Any) -> float:
    """The L2 coefficient of a Keras kernel regularizer (0.0 when it has none)."""
    if regularizer is None:
        return 0.0
    return float(getattr(regularizer, "l2", 0.0))


# --------------------------------------------------------------------------------------
# Layers


class _FeedbackLayer(keras.layers.Layer):
    """Shared lifecycle of FeedbackDense and FeedbackConv2D."""

    def __init__(
        self,
        activation: str | None = None,
        use_bias: bool = True,
        credit: CreditAssignment | dict[str, Any] | None = None,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        feedback_initializer: Any = None,
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.credit = _resolve_credit(credit)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.feedback_initializer = (
            None if feedback_initializer is None else keras.initializers.get(feedback_initializer)
        )
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel = None
        self.feedback = None
        self.bias = None

    # subclasses: shapes, ops and the linear op itself
    def _kernel_shape(self, input_shape: tuple) -> tuple[int, ...]:
        raise NotImplementedError

    def _feedback_from_kernel_draw(self, draw: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def _ops(self) -> LinearOps:
        raise NotImplementedError

    def _prepare(self, inputs: tf.Tensor) -> tf.Tensor:
        return inputs

    def _linear(self, x: tf.Tensor, kernel: tf.Tensor, feedback: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def _backprop_feedback(self, kernel: tf.Tensor) -> tf.Tensor:
        raise NotImplementedError

    def _feedback_init(self) -> Any:
        """B's initializer: the given one, or W's distribution with a different seed."""
        if self.feedback_initializer is not None:
            base = self.feedback_initializer
        else:
            config = self.kernel_initializer.get_config()
            if config.get("seed") is not None:
                config["seed"] = (int(config["seed"]) + 7919) % (2**31 - 1)
            base = type(self.kernel_initializer).from_config(config)

        def init(shape, dtype=None):
            return self._feedback_from_kernel_draw(base(self._kernel_shape_cache, dtype=dtype))

        return init

    def build(self, input_shape: tuple) -> None:
        kernel_shape = self._kernel_shape(tuple(input_shape))
        self._kernel_shape_cache = kernel_shape
        self.kernel = self.add_weight(
            name="kernel",
            shape=kernel_shape,
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            trainable=True,
        )
        if self.credit.uses_feedback:
            self.feedback = self.add_weight(
                name="feedback",
                shape=self._feedback_shape(kernel_shape),
                initializer=self._feedback_init(),
                trainable=self.credit.feedback_trainable,
            )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(kernel_shape[-1],),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                trainable=True,
            )

    def _feedback_shape(self, kernel_shape: tuple[int, ...]) -> tuple[int, ...]:
        return kernel_shape

    def call(self, inputs: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """The forward function; its gradient with respect to `inputs` is the rule's (through B)."""
        x = self._prepare(tf.convert_to_tensor(inputs))
        kernel = tf.convert_to_tensor(self.kernel)
        uses_feedback = self.credit.uses_feedback
        feedback = tf.convert_to_tensor(self.feedback) if uses_feedback else self._backprop_feedback(kernel)
        projection = self._linear(x, kernel, feedback)
        if training and uses_feedback:
            loss = self.credit.local_loss(
                x, kernel, feedback, projection, self._ops(), kernel_l2_coefficient(self.kernel_regularizer)
            )
            if loss is not None:
                self.add_loss(loss)
        return self._finish(projection)

    def forward(self, inputs: tf.Tensor) -> tf.Tensor:
        """The same forward function with TensorFlow's own gradients (inference mode).

        Same values as `call`, but differentiating it gives the true Jacobian dy/dx whatever
        the rule, where differentiating `call` sends the error through B as the rule does.
        """
        if not self.built:
            raise ValueError(f"layer {self.name!r} is not built yet; call it on an input (or build it) first")
        x = self._prepare(tf.convert_to_tensor(inputs))
        return self._finish(self._ops().forward(x, tf.convert_to_tensor(self.kernel)))

    def _finish(self, projection: tf.Tensor) -> tf.Tensor:
        outputs = projection
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, tf.convert_to_tensor(self.bias))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias,
            credit=keras.saving.serialize_keras_object(self.credit),
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            feedback_initializer=(
                None if self.feedback_initializer is None else keras.initializers.serialize(self.feedback_initializer)
            ),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=keras.regularizers.serialize(self.bias_regularizer),
        )
        return config


@keras.saving.register_keras_serializable(package="lrsim")
class FeedbackDense(_FeedbackLayer):
    """Dense layer ``activation(x @ W + b)`` whose error crosses through the rule's B.

    Input: (batch, d_in). W: (d_in, units); B: (units, d_in), only when the credit
    assignment uses a separate backward kernel (`layer.feedback` is None under backprop).
    """

    def __init__(self, units: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"FeedbackDense: units must be a positive integer, got {units!r}")
        self.units = int(units)

    def _kernel_shape(self, input_shape: tuple) -> tuple[int, ...]:
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                f"FeedbackDense {self.name!r} needs inputs of shape (batch, features) with known "
                f"features, got {input_shape}; flatten the input first (keras.layers.Flatten)"
            )
        return (int(input_shape[-1]), self.units)

    def _feedback_shape(self, kernel_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (kernel_shape[1], kernel_shape[0])

    def _feedback_from_kernel_draw(self, draw: tf.Tensor) -> tf.Tensor:
        return tf.transpose(draw)

    def _ops(self) -> LinearOps:
        return DenseOps()

    def _backprop_feedback(self, kernel: tf.Tensor) -> tf.Tensor:
        return tf.transpose(kernel)

    def _linear(self, x: tf.Tensor, kernel: tf.Tensor, feedback: tf.Tensor) -> tf.Tensor:
        return feedback_matmul(x, kernel, feedback, tied=self.credit.tied)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units}


_PADDINGS = ("same", "valid", "fixed")


@keras.saving.register_keras_serializable(package="lrsim")
class FeedbackConv2D(_FeedbackLayer):
    """2-D convolution ``activation(conv(x, W) + b)`` whose error crosses through the rule's B.

    Channels last. `padding`: "same", "valid", or "fixed" (the ResNet rule: pad k - 1 in
    total, half before, whatever the input size, then a valid convolution; the padding is
    part of `call`).
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = 1,
        padding: str = "same",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if int(filters) < 1:
            raise ValueError(f"FeedbackConv2D: filters must be a positive integer, got {filters!r}")
        self.filters = int(filters)
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        padding = str(padding).lower()
        if padding not in _PADDINGS:
            raise ValueError(f"FeedbackConv2D: padding must be one of {_PADDINGS}, got {padding!r}")
        self.padding = padding

    @property
    def _tf_padding(self) -> str:
        return "SAME" if self.padding == "same" else "VALID"

    def _kernel_shape(self, input_shape: tuple) -> tuple[int, ...]:
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(
                f"FeedbackConv2D {self.name!r} needs inputs of shape (batch, height, width, channels) "
                f"with known channels, got {input_shape}"
            )
        return (*self.kernel_size, int(input_shape[-1]), self.filters)

    def _feedback_from_kernel_draw(self, draw: tf.Tensor) -> tf.Tensor:
        return draw

    def _ops(self) -> LinearOps:
        return ConvOps(self.strides, self._tf_padding, self._kernel_shape_cache)

    def _backprop_feedback(self, kernel: tf.Tensor) -> tf.Tensor:
        return kernel

    def _prepare(self, inputs: tf.Tensor) -> tf.Tensor:
        if self.padding != "fixed":
            return inputs
        (ph0, ph1), (pw0, pw1) = (_fixed_pad(k) for k in self.kernel_size)
        if ph0 + ph1 + pw0 + pw1 == 0:
            return inputs
        return tf.pad(inputs, [[0, 0], [ph0, ph1], [pw0, pw1], [0, 0]])

    def _linear(self, x: tf.Tensor, kernel: tf.Tensor, feedback: tf.Tensor) -> tf.Tensor:
        return feedback_conv2d(x, kernel, feedback, self.strides, self._tf_padding, tied=self.credit.tied)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        batch, height, width, _ = tuple(input_shape)
        sizes = []
        for size, k, s in zip((height, width), self.kernel_size, self.strides, strict=True):
            if size is None:
                sizes.append(None)
            elif self.padding == "same":
                sizes.append(-(-int(size) // s))
            else:
                padded = int(size) + (sum(_fixed_pad(k)) if self.padding == "fixed" else 0)
                sizes.append((padded - k) // s + 1)
        return (batch, *sizes, self.filters)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
        }


def _pair(value: int | Sequence[int], what: str) -> tuple[int, int]:
    values = [int(value)] * 2 if np.ndim(value) == 0 else [int(v) for v in value]
    if len(values) != 2 or min(values) < 1:
        raise ValueError(f"FeedbackConv2D: {what} must be a positive int or a pair of them, got {value!r}")
    return values[0], values[1]


def _fixed_pad(kernel: int) -> tuple[int, int]:
    total = kernel - 1
    return total // 2, total - total // 2
