"""What the protocol needs to know about a classifier (a registry entry).

ClassifierSpec is defined with the model selection it refers to (lrdecode.decoding.model_selection),
so that module need not import this package back."""

from __future__ import annotations

from lrdecode.decoding.model_selection import ClassifierSpec

__all__ = ["ClassifierSpec"]
