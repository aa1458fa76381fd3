"""Local response normalization, the layer of the AlexNet and KNet "_lrn" variants."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

__all__ = ["LocalResponseNormalization"]


@keras.saving.register_keras_serializable(package="lrsim")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalization across channels (tf.nn.local_response_normalization)."""

    def __init__(
        self, depth_radius: int = 5, bias: float = 1.0, alpha: float = 1e-4, beta: float = 0.75, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.depth_radius = int(depth_radius)
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return tf.nn.local_response_normalization(
            inputs, depth_radius=self.depth_radius, bias=self.bias, alpha=self.alpha, beta=self.beta
        )

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "depth_radius": self.depth_radius,
            "bias": self.bias,
            "alpha": self.alpha,
            "beta": self.beta,
        }
