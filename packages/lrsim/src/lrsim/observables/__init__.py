"""Observables of every recorded layer: weight, act, grad (DESIGN section 4)."""

from lrsim.observables.collect import LayerSnapshot, observe, with_full_setting
from lrsim.observables.units import unit_responses

__all__ = ["LayerSnapshot", "observe", "unit_responses", "with_full_setting"]
