"""Trajectory-averaged control (paper Fig. S2b): the same decoders on each statistic's mean over
the trajectory instead of the trajectory itself. If accuracy holds, scale alone separates the
rules; if it falls, the dynamics carry the signal."""

from __future__ import annotations

from collections.abc import Sequence

from lrdecode.analyses.common import check_split_kinds, concat, describe, features_for
from lrdecode.decoding.protocol import Protocol
from lrdecode.io.data import LoadedData
from lrdecode.io.results import Result
from lrdecode.progress import SILENT, Reporter


def trajectory_averaged(
    data: LoadedData,
    *,
    measures: Sequence[str] = ("all",),
    statistics: Sequence[str] | None = None,
    classifiers: Sequence[str] = ("rf",),
    splits: Sequence[str] = ("paper",),
    n_splits: int = 10,
    test_fraction: float = 0.25,
    seed: int = 0,
    exhaustive: bool = False,
    n_jobs: int = 1,
    reporter: Reporter = SILENT,
) -> Result:
    """Scores with full trajectories and with trajectory means, side by side (column ``features``)."""
    splits = check_split_kinds(splits)
    feature_sets = {}
    for measure in dict.fromkeys(measures):
        feature_sets[f"{measure}/trajectory"] = features_for(data, measure, statistics)
        feature_sets[f"{measure}/averaged"] = features_for(data, measure, statistics, average=True)
    protocol = Protocol(classifiers, splits, n_splits, test_fraction, seed, exhaustive, n_jobs)
    runs = []
    for name, features in feature_sets.items():
        measure, kind_of_features = name.split("/")
        runs += protocol.each(features, {"measure": measure, "features": kind_of_features}, reporter=reporter)
    return Result(
        analysis="averaged",
        settings={"measures": list(dict.fromkeys(measures)), "statistics": list(statistics or []),
                  "classifiers": list(dict.fromkeys(classifiers)), "splits": splits, "n_splits": n_splits,
                  "test_fraction": test_fraction, "seed": seed, "exhaustive": exhaustive},
        data=describe(data, feature_sets),
        tables={"summary": concat([r.summary_table() for r in runs]),
                "splits": concat([r.split_table() for r in runs])},
    )
