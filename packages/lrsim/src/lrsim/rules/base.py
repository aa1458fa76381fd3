"""What a learning rule is: a credit assignment x a stock optimizer family.

`CreditAssignment` says how the error crosses a dense/conv layer and how its backward kernel
B learns; the layers of `lrsim.layers` apply it through the ops of `lrsim.ops`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import keras
import tensorflow as tf

from lrsim.ops import LinearOps

__all__ = ["OPTIMIZERS", "Backprop", "CreditAssignment", "LearningRule", "make_optimizer"]


class CreditAssignment:
    """How the error crosses a dense/conv layer, and how its backward kernel B learns.

    Subclasses set the class flags and, for learned B, `local_loss`. The default is
    backprop: no B, the error crosses through W^T.
    """

    #: registry-style name of the credit assignment
    name: ClassVar[str] = "backprop"
    #: the layer owns a separate backward kernel B
    uses_feedback: ClassVar[bool] = False
    #: B is a trainable variable (its gradient comes only from the layer-local rule)
    feedback_trainable: ClassVar[bool] = False
    #: B receives dW^T through the core op (Kolen-Pollack's tied update)
    tied: ClassVar[bool] = False

    def local_loss(
        self,
        x: tf.Tensor,
        kernel: tf.Tensor,
        feedback: tf.Tensor,
        projection: tf.Tensor,
        ops: LinearOps,
        kernel_l2: float,
    ) -> tf.Tensor | None:
        """Layer-local loss whose gradient with respect to B is B's update (None: no loss).

        `x` is the input of the linear op, `projection` its output P(x, W) before bias and
        activation, `kernel_l2` the layer's L2 weight-decay coefficient on W.
        """
        return None

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments (coefficients), for serialization."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> CreditAssignment:
        return cls(**config)

    def __eq__(self, other: object) -> bool:
        same_type = isinstance(other, CreditAssignment) and type(other) is type(self)
        return same_type and other.get_config() == self.get_config()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="lrsim")
class Backprop(CreditAssignment):
    """Backpropagation: the error crosses each layer through W^T."""

    name = "backprop"


#: optimizer families: name -> factory(learning_rate) of a stock Keras optimizer
OPTIMIZERS: dict[str, Callable[[Any], keras.optimizers.Optimizer]] = {
    "sgd_momentum": lambda learning_rate: keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9),
    "adam": lambda learning_rate: keras.optimizers.Adam(learning_rate=learning_rate),
}


def make_optimizer(family: str, learning_rate: Any) -> keras.optimizers.Optimizer:
    """A fresh stock optimizer of `family` ("sgd_momentum" or "adam")."""
    if family not in OPTIMIZERS:
        raise KeyError(f"unknown optimizer family {family!r}; known: {', '.join(sorted(OPTIMIZERS))}")
    return OPTIMIZERS[family](learning_rate)


@dataclass(frozen=True)
class LearningRule:
    """A learning rule: credit assignment in every dense/conv layer x an optimizer family.

    The optimizer only ever sees (gradient, variable) pairs; a learned backward kernel B
    gets its gradient from its layer-local rule alone.
    """

    name: str
    credit: CreditAssignment
    optimizer: str

    def make_optimizer(self, learning_rate: Any) -> keras.optimizers.Optimizer:
        """The rule's stock optimizer at `learning_rate` (a float or a Keras schedule)."""
        return make_optimizer(self.optimizer, learning_rate)

    def options(self) -> dict[str, Any]:
        """The rule's coefficients, as `get_rule(name, **options)` accepts them."""
        return self.credit.get_config()
