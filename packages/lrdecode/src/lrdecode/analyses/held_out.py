"""Generalisation to held-out conditions (paper Fig. 2b): train on every other level of a run
factor (architecture, curriculum = batch size x dataset seed, task, or any run column), test
on the held-out level, for each level in turn."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from lrdecode.analyses.common import concat, describe, features_for
from lrdecode.decoding import metrics
from lrdecode.decoding.protocol import run_protocol
from lrdecode.decoding.splits import factor_levels, held_out_splits
from lrdecode.io.data import LoadedData
from lrdecode.io.results import Result
from lrdecode.progress import SILENT, Reporter


def held_out(
    data: LoadedData,
    *,
    factor: str = "architecture",
    measure: str = "all",
    statistics: Sequence[str] | None = None,
    classifiers: Sequence[str] = ("rf",),
    seed: int = 0,
    exhaustive: bool = False,
    n_jobs: int = 1,
    reporter: Reporter = SILENT,
) -> Result:
    """Per held-out level: accuracy, balanced accuracy, d' and sizes; plus the mean over levels.

    Hyperparameters are chosen with run-grouped inner folds on the training levels only.
    """
    features = features_for(data, measure, statistics)
    labelled = features.labelled()
    columns, _ = factor_levels(labelled.examples, factor)
    splits = held_out_splits(labelled.examples, factor)
    summaries, tables = [], []
    for classifier in dict.fromkeys(classifiers):
        run = run_protocol(features, splits, classifier=classifier, grouped_inner=True, exhaustive=exhaustive,
                           seed=seed, n_jobs=n_jobs,
                           keys={"factor": factor, "measure": measure, "classifier": classifier},
                           reporter=reporter)
        table = run.split_table().rename(columns={"split_label": "level"})
        table["test_rules"] = [", ".join(sorted(set(o.y_true))) for o in run.outcomes]
        table["rules_missing_in_training"] = [
            ", ".join(sorted(set(o.y_true) - set(labelled.labels[o.split.train].astype(str))))
            for o in run.outcomes]
        tables.append(table)
        overall = {"factor": factor, "measure": measure, "classifier": classifier, "level": "mean over levels"}
        for score in ("accuracy", "balanced_accuracy", "dprime"):
            overall[f"{score}_mean"], overall[f"{score}_sem"] = metrics.mean_sem(table[score])
        overall["chance"] = 1.0 / len(run.classes)
        overall["n_levels"] = len(splits)
        summaries.append(pd.DataFrame([overall]))
    levels = concat(tables)
    per_level = levels[["factor", "measure", "classifier", "level", "accuracy", "balanced_accuracy", "dprime",
                        "n_train", "n_test"]].rename(columns={"accuracy": "accuracy_mean",
                                                              "balanced_accuracy": "balanced_accuracy_mean",
                                                              "dprime": "dprime_mean"})
    per_level["chance"] = 1.0 / len(labelled.classes)
    return Result(
        analysis="held_out",
        settings={"factor": factor, "factor_columns": list(columns), "measure": measure,
                  "statistics": list(statistics or []), "classifiers": list(dict.fromkeys(classifiers)),
                  "seed": seed, "exhaustive": exhaustive},
        data=describe(data, {measure: features}),
        tables={"summary": concat([*summaries, per_level]), "levels": levels},
    )

