"""Observables of every recorded layer: weight, act, grad (shared_schema/FORMAT.md §6)."""

from lrsim.observables.collect import LayerSnapshot, observe, with_full_setting
from lrsim.observables.units import unit_responses

__all__ = ["LayerSnapshot", "ProbePass", "observe", "unit_responses", "with_full_setting"]


def __getattr__(name: str):
    if name == "ProbePass":  # imports the engine; kept lazy so the statistics stand alone
        from lrsim.observables.probe import ProbePass

        return ProbePass
    raise AttributeError(name)
