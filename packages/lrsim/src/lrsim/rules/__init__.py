"""Learning rules: a credit assignment (how the error crosses each layer) x a stock optimizer.

The registry maps a rule name to a keyword factory whose keywords are the rule's
coefficients (``get_rule("ia", alpha=1e-3)``). Adding a rule is one file in this package
plus one `register_rule` line below.

| name | credit assignment | optimizer |
| --- | --- | --- |
| sgdm | backprop (W^T) | SGD, momentum 0.9 |
| adam | backprop (W^T) | Adam |
| fa | fixed random B (Lillicrap et al. 2016) | SGD, momentum 0.9 |
| ia | B learned by information alignment (Kunin et al. 2020) | SGD, momentum 0.9 |
| kp | B learned by Kolen-Pollack (Akrout et al. 2019) | SGD, momentum 0.9 |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lrsim.rules import adam, fa, ia, kp, sgdm
from lrsim.rules.base import OPTIMIZERS, LearningRule, make_optimizer
from lrsim.rules.fa import FeedbackAlignment
from lrsim.rules.ia import InformationAlignment, information_alignment_loss
from lrsim.rules.kp import KolenPollack

__all__ = [
    "OPTIMIZERS",
    "RULES",
    "FeedbackAlignment",
    "InformationAlignment",
    "KolenPollack",
    "LearningRule",
    "get_rule",
    "information_alignment_loss",
    "make_optimizer",
    "register_rule",
]

#: rule name -> keyword factory of a LearningRule
RULES: dict[str, Callable[..., LearningRule]] = {}


def register_rule(name: str, factory: Callable[..., LearningRule]) -> None:
    """Add a rule factory under `name`; a name can be registered once."""
    if name in RULES:
        raise ValueError(f"learning rule {name!r} is already registered; pick another name")
    RULES[name] = factory


def get_rule(name: str, **options: Any) -> LearningRule:
    """The rule `name` with coefficients `options` (defaults where not given)."""
    if name not in RULES:
        raise KeyError(f"unknown learning rule {name!r}; known rules: {', '.join(RULES)}")
    try:
        return RULES[name](**options)
    except TypeError:
        raise TypeError(
            f"learning rule {name!r} does not accept the options {sorted(options)}; "
            f"its defaults are {RULES[name]().options()}"
        ) from None


register_rule("sgdm", sgdm.rule)
register_rule("adam", adam.rule)
register_rule("fa", fa.rule)
register_rule("ia", ia.rule)
register_rule("kp", kp.rule)
