"""The `learning_curve` column of runs.parquet (format 1.1.0): a run's evaluations as JSON text.

One entry per evaluation, in training order: ``{"epoch": float, "metric": float | null,
"loss": float | null}``, the task metric on held-out data and the mean training loss of the
epoch that ended there; at epoch 0 (the initialisation) the loss is the task loss before any
update. Both helpers are the only place that knows the encoding.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["encode_learning_curve", "parse_learning_curve"]

_FIELDS = ("epoch", "metric", "loss")


def _number(value: Any, name: str, nullable: bool) -> float | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"'{name}' must be a finite number{' or null' if nullable else ''}, got {value!r}")
    return float(value)


def encode_learning_curve(points: Iterable[Mapping[str, Any]]) -> str:
    """JSON text of evaluations given as mappings with `epoch`, `metric` and `loss` (extra keys dropped).

    Non-finite metrics and losses (a run that diverged) are written as null, since JSON has no NaN.
    """
    curve = []
    for point in points:
        entry = {"epoch": _number(point.get("epoch"), "epoch", nullable=False)}
        for name in ("metric", "loss"):
            value = point.get(name)
            finite = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
            entry[name] = _number(value, name, nullable=True) if finite or value is None else None
        curve.append(entry)
    return json.dumps(curve)


def parse_learning_curve(text: str | None) -> list[dict[str, float | None]]:
    """The evaluations of a `learning_curve` cell ([] for null); ValueError says what is wrong."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    try:
        parsed = json.loads(text)
    except (TypeError, json.JSONDecodeError):
        raise ValueError(f"{str(text)[:60]!r} is not JSON text") from None
    if not isinstance(parsed, list):
        raise ValueError(f"{str(text)[:60]!r} is not a JSON array")
    curve = []
    for index, point in enumerate(parsed):
        if not isinstance(point, dict) or "epoch" not in point:
            raise ValueError(f"entry {index} ({str(point)[:40]!r}) is not an object with an 'epoch'")
        try:
            curve.append({name: _number(point.get(name), name, nullable=name != "epoch") for name in _FIELDS})
        except ValueError as error:
            raise ValueError(f"entry {index}: {error}") from None
    epochs = [p["epoch"] for p in curve]
    if any(epoch < 0 for epoch in epochs):
        raise ValueError(f"epochs {epochs[:8]} include a negative one; epoch 0 is the initialisation")
    if any(later < earlier for earlier, later in itertools.pairwise(epochs)):
        raise ValueError(f"epochs {epochs[:8]} decrease; list evaluations in training order")
    return curve
