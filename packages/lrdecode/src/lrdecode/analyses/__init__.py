"""The analysis registry: name -> Analysis (its function, title and plot).

An analysis returns one tidy `lrdecode.io.results.Result`; a new analysis is one module plus
one entry here. The CLI makes a command of each entry (its own options:
`lrdecode.cli.analyses.COMMANDS`); figures and the HTML report read the title and the plot here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
from lrdecode.reporting import limit_figures, plots


@dataclass(frozen=True)
class Analysis:
    """One analysis: run(LoadedData, **options) -> Result, the report's title, its figures."""

    name: str
    run: Callable[..., Result]
    title: str
    plot: Callable[[Result], dict] | None = None


ANALYSES: dict[str, Analysis] = {}


def register(analysis: Analysis) -> Analysis:
    """Add an analysis (names are unique)."""
    if analysis.name in ANALYSES:
        raise ValueError(f"an analysis named {analysis.name!r} is already registered")
    ANALYSES[analysis.name] = analysis
    return analysis


register(Analysis("evaluate", evaluate_measures, "Decoding the learning rule, per measure and classifier",
                  plots.plot_evaluate))
register(Analysis("pairwise", pairwise, "Pairwise separation of the rules", plots.plot_pairwise))
register(Analysis("held_out", held_out, "Generalisation to a held-out factor", plots.plot_held_out))
register(Analysis("averaged", trajectory_averaged, "Trajectory-averaged control", plots.plot_averaged))
register(Analysis("importance", importance, "Which statistics carry the rule", plots.plot_importance))
register(Analysis("subsample", trajectory_subsampling, "Subsample", limit_figures.plot_subsample))
register(Analysis("consecutive", consecutive_portions, "Consecutive", limit_figures.plot_consecutive))
register(Analysis("units_noise", units_noise, "Units noise", limit_figures.plot_units_noise))
register(Analysis("plan", plan_experiment, "Plan", limit_figures.plot_plan))

__all__ = ["ANALYSES", "Analysis", "consecutive_portions", "evaluate_measures", "held_out", "importance", "pairwise",
           "plan_experiment", "register", "trajectory_averaged", "trajectory_subsampling", "units_noise"]
