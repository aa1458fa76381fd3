"""Architecture registry: name -> builder(input_shape, num_outputs, *, width, credit, seed, ...).

Every builder returns a `Network`: a functional Keras model (input -> logits, or an
embedding of `num_outputs`) and its recorded layers in depth order, each one of the
credit-assignment layers of `lrsim.layers` called exactly once, with its early/middle/deep
position from `shared_schema.layer_positions`. Each family's module documents its recorded
layers, its input adaptation and its parameter count at full size.

| name | family | recorded layers |
| --- | --- | --- |
| resnet18, resnet18v2 | `resnet` | 22 |
| resnet34, resnet34v2 | `resnet` | 38 |
| alexnet, alexnet_lrn | `alexnet` | 8 |
| knet4, knet4_lrn, knet4_bn | `knet` | 4 |
| knet5, knet5_lrn, knet5_bn | `knet` | 5 |
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lrsim.architectures import alexnet, knet, resnet
from lrsim.architectures.base import MIN_LARGE_INPUT, Network, RecordedLayer, count_parameters

__all__ = [
    "ARCHITECTURES",
    "MIN_LARGE_INPUT",
    "Network",
    "RecordedLayer",
    "build_network",
    "count_parameters",
    "register_architecture",
]

#: architecture name -> keyword builder returning a Network
ARCHITECTURES: dict[str, Callable[..., Network]] = {}


def register_architecture(name: str, builder: Callable[..., Network]) -> None:
    """Add a builder under `name`; a name can be registered once."""
    if name in ARCHITECTURES:
        raise ValueError(f"architecture {name!r} is already registered; pick another name")
    ARCHITECTURES[name] = builder


def build_network(name: str, input_shape: tuple[int, ...], num_outputs: int, **options: Any) -> Network:
    """Build architecture `name` for inputs of `input_shape` (channels last) and `num_outputs`.

    Options: ``width`` (multiplier, default 1), ``credit`` (a CreditAssignment, default
    backprop), ``seed`` (initializer seed, default 0), ``weight_decay``, and family-specific
    ones (ResNets: ``projection_in_first_group``).
    """
    if name not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {name!r}; known architectures: {', '.join(ARCHITECTURES)}")
    return ARCHITECTURES[name](input_shape, num_outputs, **options)


for _name, _builder in (
    ("resnet18", resnet.resnet18),
    ("resnet18v2", resnet.resnet18v2),
    ("resnet34", resnet.resnet34),
    ("resnet34v2", resnet.resnet34v2),
    ("alexnet", alexnet.alexnet),
    ("alexnet_lrn", alexnet.alexnet_lrn),
    ("knet4", knet.knet4),
    ("knet4_lrn", knet.knet4_lrn),
    ("knet5", knet.knet5),
    ("knet5_lrn", knet.knet5_lrn),
    ("knet4_bn", knet.knet4_bn),
    ("knet5_bn", knet.knet5_bn),
):
    register_architecture(_name, _builder)
