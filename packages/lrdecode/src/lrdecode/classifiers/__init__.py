"""The classifier registry: name -> ClassifierSpec (how to build it, its original grid, and
its default, cheaper model selection). Adding a classifier is one module plus one line below."""

from __future__ import annotations

from lrdecode.classifiers import conv1d, forest, hgb, logreg, svm
from lrdecode.classifiers.base import ClassifierSpec
from lrdecode.errors import DecodeError

CLASSIFIERS: dict[str, ClassifierSpec] = {}


def register(spec: ClassifierSpec) -> ClassifierSpec:
    """Add a classifier to the registry (names are unique)."""
    if spec.name in CLASSIFIERS:
        raise ValueError(f"a classifier named {spec.name!r} is already registered")
    CLASSIFIERS[spec.name] = spec
    return spec


def get_classifier(name: str) -> ClassifierSpec:
    """The spec of a registered classifier; unknown names list what exists."""
    try:
        return CLASSIFIERS[name]
    except KeyError:
        raise DecodeError(f"unknown classifier {name!r}", f"use one of {', '.join(CLASSIFIERS)}") from None

register(forest.SPEC)
register(svm.SPEC)
register(conv1d.SPEC)
register(logreg.SPEC)
register(hgb.SPEC)

__all__ = ["CLASSIFIERS", "ClassifierSpec", "get_classifier", "register"]
