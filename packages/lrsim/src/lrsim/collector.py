"""The import path `lrsim.collector` of the worker's garbage-collector freeze and of the
gradient-registry release, for code that imports them from here.

They are defined in `lrsim.sweep.worker.freeze_imported_objects` (with the rest of a sweep
worker's process settings) and `lrsim.gradient_registry.custom_gradients_released`.
"""

from __future__ import annotations

from lrsim.gradient_registry import custom_gradients_released
from lrsim.sweep.worker import freeze_imported_objects

__all__ = ["custom_gradients_released", "freeze_imported_objects"]
