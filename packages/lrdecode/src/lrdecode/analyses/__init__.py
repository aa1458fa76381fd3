"""The analysis registry: name -> function(LoadedData, **options) -> Result.

An analysis returns one tidy `lrdecode.io.results.Result`; a new analysis is one module plus
one line here (and, for figures, one line in `lrdecode.reporting.figures.PLOTTERS`).
"""

from __future__ import annotations

from collections.abc import Callable

from lrdecode.analyses.averaged import trajectory_averaged
from lrdecode.analyses.consecutive import consecutive_portions
from lrdecode.analyses.evaluate import evaluate_measures
from lrdecode.analyses.held_out import held_out
from lrdecode.analyses.importance import importance
from lrdecode.analyses.pairwise import pairwise
from lrdecode.analyses.plan import plan_experiment
from lrdecode.analyses.subsample import trajectory_subsampling
from lrdecode.analyses.units_noise import units_noise
from lrdecode.io.results import Result

ANALYSES: dict[str, Callable[..., Result]] = {}


def register(name: str, analysis: Callable[..., Result]) -> None:
    """Add an analysis (names are unique)."""
    if name in ANALYSES:
        raise ValueError(f"an analysis named {name!r} is already registered")
    ANALYSES[name] = analysis


register("evaluate", evaluate_measures)
register("pairwise", pairwise)
register("held_out", held_out)
register("averaged", trajectory_averaged)
register("importance", importance)
register("subsample", trajectory_subsampling)
register("consecutive", consecutive_portions)
register("units_noise", units_noise)
register("plan", plan_experiment)

__all__ = ["ANALYSES", "consecutive_portions", "evaluate_measures", "held_out", "importance", "pairwise",
           "plan_experiment", "register", "trajectory_averaged", "trajectory_subsampling", "units_noise"]
