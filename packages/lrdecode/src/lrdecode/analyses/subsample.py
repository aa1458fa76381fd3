"""Trajectory subsampling (paper Fig. 4a, S5): decode from n samples taken a fixed number of
checkpoints apart (the subsample period) from a random start, for a grid of periods x numbers
of samples, as an experimentalist who records at regular intervals sees learning.

The random start is drawn afresh for every train/test split (seeded by the seed, the period,
the number of samples and the split), so the s.e.m. over splits includes where recording
happened to start. By default one start per run, shared by its layers and measurement
settings: an animal's areas are recorded in the same sessions, and a start per layer would
let layers of one run disagree about when the sessions were. ``start_per="example"`` draws
one per layer, as the paper's Appendix B.3.1 describes.
"""

from __future__ import annotations

from collections.abc import Sequence

import shared_schema as ss
from lrdecode.analyses.common import check_split_kinds, concat, describe, features_for
from lrdecode.decoding.features import build_features, without_dropped_examples
from lrdecode.decoding.protocol import Protocol
from lrdecode.errors import DecodeError
from lrdecode.io.data import LoadedData
from lrdecode.io.results import Result
from lrdecode.limits import evaluate_redrawn, span, subsample
from lrdecode.progress import SILENT, Reporter

DEFAULT_PERIODS: tuple[int, ...] = (1, 2, 5)  # 5, 10 and 25 epochs apart on the paper's 21 checkpoints of 100 epochs


def default_sample_counts(n_checkpoints: int) -> list[int]:
    """About 10%, 20%, 30%, 50%, 75% and 100% of the trajectory (2, 4, 6, 10, 16, 21 of 21)."""
    return sorted({max(1, round(n_checkpoints * f)) for f in (0.1, 0.2, 0.3, 0.5, 0.75, 1.0)})


def trajectory_subsampling(
    data: LoadedData,
    *,
    periods: Sequence[int] = DEFAULT_PERIODS,
    sample_counts: Sequence[int] | None = None,
    measures: Sequence[str] = ("all",),
    statistics: Sequence[str] | None = None,
    classifier: str = "rf",
    splits: Sequence[str] = ("paper", "grouped"),
    n_splits: int = 10,
    test_fraction: float = 0.25,
    start_per: str = "run",
    seed: int = 0,
    exhaustive: bool = False,
    n_jobs: int = 1,
    reporter: Reporter = SILENT,
) -> Result:
    """Accuracy (mean +- s.e.m. over splits) for every feasible (period, number of samples).

    A cell is feasible when (n - 1) x period + 1 <= checkpoints; the others are listed in the
    settings (``infeasible``), not scored.
    """
    splits = check_split_kinds(splits)
    n_checkpoints = data.trajectories.values.shape[1]
    counts = sorted(set(sample_counts or default_sample_counts(n_checkpoints)))
    periods = sorted(set(periods))
    if not periods or min(periods) < 1 or not counts or min(counts) < 1:
        raise DecodeError("periods and numbers of samples must be integers >= 1 (--period, --samples)",
                          "e.g. --period 1 --period 2 --period 5 --samples 2 --samples 4")
    cells = [(p, n) for p in periods for n in counts if span(n, p) <= n_checkpoints]
    infeasible = [{"period": p, "n_samples": n, "span": span(n, p)} for p in periods for n in counts
                  if span(n, p) > n_checkpoints]
    if not cells:
        raise DecodeError(f"no (period, samples) pair fits in the {n_checkpoints} checkpoints of the trajectories",
                          "take fewer samples or a shorter period: (samples - 1) x period + 1 must be <= "
                          f"{n_checkpoints}")
    feature_sets = {m: features_for(data, m, statistics) for m in dict.fromkeys(measures)}
    protocol = Protocol((classifier,), splits, n_splits, test_fraction, seed, exhaustive, n_jobs)
    runs = []
    for measure in feature_sets:
        for period, n in cells:
            whole = feature_sets[measure]
            kept = without_dropped_examples(data.trajectories, whole)

            def features_of_split(i: int, period: int = period, n: int = n, measure: str = measure,
                                  kept: ss.Trajectories = kept, chosen: tuple[str, ...] = whole.layout.observables):
                reduced = subsample(kept, n_samples=n, period=period, seed=[seed, period, n, i], per=start_per)
                return build_features(reduced, measure=measure, statistics=list(chosen))

            runs += protocol.each(features_of_split, {"measure": measure}, after={"period": period, "n_samples": n},
                                  evaluator=evaluate_redrawn, reporter=reporter)
    summary = concat([r.summary_table() for r in runs])
    summary.insert(summary.columns.get_loc("n_samples") + 1, "span", [span(n, p) for p, n in
                                                                     zip(summary["period"], summary["n_samples"],
                                                                         strict=True)])
    summary.insert(summary.columns.get_loc("span") + 1, "proportion", summary["n_samples"] / n_checkpoints)
    return Result(
        analysis="subsample",
        settings={"periods": periods, "sample_counts": counts, "n_checkpoints": n_checkpoints,
                  "infeasible": infeasible, "start_per": start_per, "measures": list(feature_sets),
                  "statistics": list(statistics or []), "classifier": classifier, "splits": splits,
                  "n_splits": n_splits, "test_fraction": test_fraction, "seed": seed, "exhaustive": exhaustive},
        data=describe(data, feature_sets),
        tables={"summary": summary, "splits": concat([r.split_table() for r in runs])},
    )
