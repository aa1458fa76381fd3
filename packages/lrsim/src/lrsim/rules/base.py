"""What a learning rule is: a credit assignment x a stock optimizer family."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras

from lrsim.layers import CreditAssignment

__all__ = ["OPTIMIZERS", "LearningRule", "make_optimizer"]

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
