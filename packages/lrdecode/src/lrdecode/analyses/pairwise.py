"""Pairwise rule separation (paper Fig. S1): for every pair of rules, how well a classifier
trained on those two alone tells them apart."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from lrdecode.analyses.common import check_split_kinds, concat, describe, features_for
from lrdecode.decoding.protocol import Protocol
from lrdecode.errors import DecodeError
from lrdecode.io.data import LoadedData
from lrdecode.io.results import Result
from lrdecode.progress import SILENT, Reporter


def pairwise(
    data: LoadedData,
    *,
    measure: str = "all",
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
    """Every pair of rules x classifier x split kind: mean +- s.e.m. two-way accuracy."""
    splits = check_split_kinds(splits)
    features = features_for(data, measure, statistics)
    classes = features.classes
    if len(classes) < 2:
        raise DecodeError("pairwise separation needs at least two rules", "decode data with several rules")
    protocol = Protocol(classifiers, splits, n_splits, test_fraction, seed, exhaustive, n_jobs)
    runs = []
    for rule_a, rule_b in combinations(classes, 2):
        runs += protocol.each(features.only_classes([rule_a, rule_b]),
                              {"measure": measure, "rule_a": rule_a, "rule_b": rule_b}, reporter=reporter)
    return Result(
        analysis="pairwise",
        settings={"measure": measure, "statistics": list(statistics or []),
                  "classifiers": list(dict.fromkeys(classifiers)), "splits": splits, "n_splits": n_splits,
                  "test_fraction": test_fraction, "seed": seed, "exhaustive": exhaustive},
        data=describe(data, {measure: features}),
        tables={"summary": concat([r.summary_table() for r in runs]),
                "splits": concat([r.split_table() for r in runs])},
    )
