"""The headline analysis: accuracy of each classifier on each measure (weight, act, grad, all),
on the paper's example-level splits and on run-grouped splits (paper Fig. 2a, 2c)."""

from __future__ import annotations

from collections.abc import Sequence

from lrdecode.analyses.common import check_split_kinds, concat, describe, features_for
from lrdecode.decoding.protocol import Protocol
from lrdecode.io.data import LoadedData
from lrdecode.io.results import Result
from lrdecode.progress import SILENT, Reporter


def evaluate_measures(
    data: LoadedData,
    *,
    measures: Sequence[str] = ("all",),
    statistics: Sequence[str] | None = None,
    classifiers: Sequence[str] = ("rf",),
    splits: Sequence[str] = ("paper", "grouped"),
    n_splits: int = 10,
    test_fraction: float = 0.25,
    seed: int = 0,
    exhaustive: bool = False,
    n_jobs: int = 1,
    reporter: Reporter = SILENT,
) -> Result:
    """Every (measure, classifier, split kind): mean +- s.e.m. scores, per-split rows, mean confusion."""
    splits = check_split_kinds(splits)
    feature_sets = {m: features_for(data, m, statistics) for m in dict.fromkeys(measures)}
    protocol = Protocol(classifiers, splits, n_splits, test_fraction, seed, exhaustive, n_jobs)
    runs = [run for measure, features in feature_sets.items()
            for run in protocol.each(features, {"measure": measure}, reporter=reporter)]
    return Result(
        analysis="evaluate",
        settings={"measures": list(feature_sets), "statistics": list(statistics or []),
                  "classifiers": list(dict.fromkeys(classifiers)), "splits": splits, "n_splits": n_splits,
                  "test_fraction": test_fraction, "seed": seed, "exhaustive": exhaustive},
        data=describe(data, feature_sets),
        tables={
            "summary": concat([r.summary_table() for r in runs]),
            "splits": concat([r.split_table() for r in runs]),
            "confusion": concat([r.confusion_table() for r in runs]),
            "classes": concat([r.class_table() for r in runs]),
        },
    )

