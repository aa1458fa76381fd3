"""What an architecture builder returns, and the helper every family builds with."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

import shared_schema
from lrsim.layers import Backprop, CreditAssignment, FeedbackConv2D, FeedbackDense

__all__ = ["MIN_LARGE_INPUT", "Network", "NetworkBuilder", "RecordedLayer", "count_parameters"]

#: inputs whose height and width are both at least this use the original ImageNet stems
MIN_LARGE_INPUT = 64


@dataclass(frozen=True)
class RecordedLayer:
    """A layer the observables measure.

    `name` is the original study's layer name (e.g. "block_group1_0/conv1"); the Keras
    layer's own name is the same with "/" replaced by "_". `layer` is called exactly once
    in the model's graph (so `layer.input` and `layer.output` are defined) and its `call`
    is its whole forward function. `position` is "early", "middle" or "deep".
    """

    name: str
    layer: FeedbackDense | FeedbackConv2D
    position: str


@dataclass(frozen=True)
class Network:
    """A built network: a functional Keras model and its recorded layers in depth order."""

    architecture: str
    model: keras.Model
    recorded: tuple[RecordedLayer, ...]
    input_shape: tuple[int, ...]
    num_outputs: int
    width: float
    seed: int
    credit: CreditAssignment

    @property
    def feedback_variables(self) -> list[keras.Variable]:
        """The backward kernels B of the recorded layers (empty under backprop)."""
        return [r.layer.feedback for r in self.recorded if r.layer.feedback is not None]

    def layer(self, name: str) -> RecordedLayer:
        """The recorded layer called `name` (the study's name)."""
        for recorded in self.recorded:
            if recorded.name == name:
                return recorded
        raise KeyError(f"{self.architecture} has no recorded layer {name!r}; it has {[r.name for r in self.recorded]}")


def count_parameters(network: Network) -> int:
    """Trainable parameters of the forward network (kernels, biases, BN scales and shifts).

    Backward kernels B are excluded: they are the learning rule's state, not the
    architecture's.
    """
    feedback = {id(v) for v in network.feedback_variables}
    return int(sum(np.prod(v.shape) for v in network.model.trainable_variables if id(v) not in feedback))


class NetworkBuilder:
    """Creates seeded, width-scaled, weight-decayed credit-assignment layers and records them.

    Every layer gets its own initializer seed, drawn in build order from `seed`, so the
    same seed builds the same weights. Weight decay follows TF1's `l2_regularizer`:
    ``weight_decay * sum(w^2) / 2`` on every kernel and bias of dense/conv layers.
    """

    def __init__(
        self,
        architecture: str,
        input_shape: Sequence[int],
        num_outputs: int,
        width: float,
        credit: CreditAssignment | None,
        seed: int,
        weight_decay: float,
    ) -> None:
        self.architecture = architecture
        self.input_shape = _check_input_shape(architecture, input_shape)
        if int(num_outputs) < 1:
            raise ValueError(f"{architecture}: num_outputs must be a positive integer, got {num_outputs!r}")
        self.num_outputs = int(num_outputs)
        if not float(width) > 0:
            raise ValueError(f"{architecture}: width multiplier must be > 0, got {width!r}")
        self.width = float(width)
        self.credit = credit if credit is not None else _backprop()
        if seed is None or int(seed) < 0:
            raise ValueError(f"{architecture}: seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        if float(weight_decay) < 0:
            raise ValueError(f"{architecture}: weight_decay must be >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)
        self._rng = np.random.default_rng(self.seed)
        self._recorded: list[tuple[str, FeedbackDense | FeedbackConv2D]] = []

    @property
    def large_input(self) -> bool:
        """Whether the input is big enough for the original ImageNet stem."""
        return min(self.input_shape[:2]) >= MIN_LARGE_INPUT

    def channels(self, base: int) -> int:
        """`base` channels or units scaled by the width multiplier (at least 1)."""
        return max(1, round(base * self.width))

    def next_seed(self) -> int:
        """A fresh seed for one initializer or dropout layer."""
        return int(self._rng.integers(0, 2**31 - 1))

    def _regularizer(self) -> keras.regularizers.Regularizer | None:
        return keras.regularizers.L2(self.weight_decay / 2) if self.weight_decay > 0 else None

    def initializer(self, kind: str, **kwargs: Any) -> keras.initializers.Initializer:
        """A seeded Keras initializer, e.g. ``initializer("RandomNormal", stddev=0.01)``."""
        return getattr(keras.initializers, kind)(seed=self.next_seed(), **kwargs)

    def conv(
        self,
        x: Any,
        name: str,
        filters: int,
        kernel_size: int,
        strides: int = 1,
        padding: str = "same",
        activation: str | None = None,
        use_bias: bool = True,
        kernel_initializer: keras.initializers.Initializer | None = None,
        bias_initializer: Any = "zeros",
    ) -> Any:
        """Apply a recorded FeedbackConv2D named `name` (the study's name) to `x`."""
        layer = FeedbackConv2D(
            filters,
            kernel_size,
            strides=strides,
            padding=padding,
            activation=activation,
            use_bias=use_bias,
            credit=self.credit,
            kernel_initializer=kernel_initializer or self.initializer("GlorotUniform"),
            bias_initializer=bias_initializer,
            kernel_regularizer=self._regularizer(),
            bias_regularizer=self._regularizer() if use_bias else None,
            name=keras_name(name),
        )
        self._recorded.append((name, layer))
        return layer(x)

    def dense(
        self,
        x: Any,
        name: str,
        units: int,
        activation: str | None = None,
        kernel_initializer: keras.initializers.Initializer | None = None,
        bias_initializer: Any = "zeros",
    ) -> Any:
        """Apply a recorded FeedbackDense named `name` (the study's name) to `x`."""
        layer = FeedbackDense(
            units,
            activation=activation,
            credit=self.credit,
            kernel_initializer=kernel_initializer or self.initializer("GlorotUniform"),
            bias_initializer=bias_initializer,
            kernel_regularizer=self._regularizer(),
            bias_regularizer=self._regularizer(),
            name=keras_name(name),
        )
        self._recorded.append((name, layer))
        return layer(x)

    def finish(self, inputs: Any, outputs: Any) -> Network:
        """The functional model and its recorded layers with their depth thirds."""
        model = keras.Model(inputs, outputs, name=self.architecture)
        positions = shared_schema.layer_positions(len(self._recorded))
        recorded = tuple(
            RecordedLayer(name, layer, position)
            for (name, layer), position in zip(self._recorded, positions, strict=True)
        )
        return Network(
            architecture=self.architecture,
            model=model,
            recorded=recorded,
            input_shape=self.input_shape,
            num_outputs=self.num_outputs,
            width=self.width,
            seed=self.seed,
            credit=self.credit,
        )


def keras_name(name: str) -> str:
    """The Keras layer name of a study layer name ("/" is not allowed in Keras names)."""
    return name.replace("/", "_")


def _backprop() -> CreditAssignment:
    return Backprop()


def _check_input_shape(architecture: str, input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(d, int | np.integer) and d > 0 for d in shape):
        raise ValueError(
            f"{architecture}: input_shape must be (height, width, channels) of positive integers, "
            f"channels last (e.g. (32, 32, 3), (8, 8, 1), (frames, mels, 1)); got {input_shape!r}"
        )
    return int(shape[0]), int(shape[1]), int(shape[2])
