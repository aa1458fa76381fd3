"""The decoding protocol: for every train/test split, choose hyperparameters by inner CV on the
training part only, fit, and score on the test part; then summarise over splits (mean and
s.e.m. of accuracy, balanced accuracy and d', and the mean confusion matrix)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from lrdecode.classifiers import get_classifier
from lrdecode.decoding import metrics
from lrdecode.decoding.features import FeatureSet
from lrdecode.decoding.model_selection import Selection, limited_threads, params_text, select_model
from lrdecode.decoding.splits import Split, make_splits, split_groups
from lrdecode.errors import DecodeError
from lrdecode.progress import SILENT, Reporter


@dataclass
class SplitOutcome:
    """One split: what was predicted, how the model was chosen, and its confusion matrix."""

    split: Split
    classes: tuple[str, ...]
    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray
    selection: Selection

    @property
    def confusion(self) -> np.ndarray:
        return metrics.confusion(self.y_true, self.y_pred, self.classes)

    @property
    def scores(self) -> dict[str, float]:
        return metrics.scores(self.confusion)


@dataclass
class ProtocolRun:
    """The outcome of one classifier on one set of splits, as tidy tables.

    ``keys`` (e.g. measure, classifier, split) are put in front of every table row so that
    runs of an analysis can be concatenated.
    """

    keys: dict[str, Any]
    classes: tuple[str, ...]
    outcomes: list[SplitOutcome] = field(default_factory=list)

    def _prefixed(self, rows: list[dict[str, Any]]) -> pd.DataFrame:
        return pd.DataFrame([{**self.keys, **row} for row in rows])

    def split_table(self) -> pd.DataFrame:
        """One row per split: scores, sizes, chosen hyperparameters, selection time."""
        rows = []
        for i, o in enumerate(self.outcomes):
            rows.append({"split": i, "split_label": o.split.label, **o.scores,
                         "n_train": len(o.split.train), "n_test": len(o.split.test),
                         "params": params_text(o.selection.params), "validation_score": o.selection.score,
                         "selection_seconds": o.selection.seconds, "selection_method": o.selection.method})
        return self._prefixed(rows)

    def confusion_rates(self) -> np.ndarray:
        """(splits, true, predicted): each split's confusion matrix as rates per true rule."""
        matrices = np.array([o.confusion for o in self.outcomes], dtype=float)
        totals = matrices.sum(axis=2, keepdims=True)
        return np.divide(matrices, totals, out=np.full_like(matrices, np.nan), where=totals > 0)

    def confusion_table(self) -> pd.DataFrame:
        """Tidy mean confusion matrix: rows (true, predicted) with mean count, mean rate and its s.e.m."""
        counts = np.array([o.confusion for o in self.outcomes], dtype=float)
        rates = self.confusion_rates()
        rows = []
        for i, true in enumerate(self.classes):
            for j, predicted in enumerate(self.classes):
                valid = rates[:, i, j][~np.isnan(rates[:, i, j])]
                mean, sem = metrics.mean_sem(valid) if len(valid) else (np.nan, np.nan)
                rows.append({"true": true, "predicted": predicted, "mean_count": counts[:, i, j].mean(),
                             "mean_rate": mean, "sem_rate": sem})
        return self._prefixed(rows)

    def class_table(self) -> pd.DataFrame:
        """Per rule: recall and one-vs-rest d', mean and s.e.m. over splits."""
        rates = self.confusion_rates()
        dprimes = np.array([metrics.dprime_per_class(o.confusion) for o in self.outcomes])
        rows = []
        for i, rule in enumerate(self.classes):
            recall = rates[:, i, i][~np.isnan(rates[:, i, i])]
            d = dprimes[:, i][~np.isnan(dprimes[:, i])]
            r_mean, r_sem = metrics.mean_sem(recall) if len(recall) else (np.nan, np.nan)
            d_mean, d_sem = metrics.mean_sem(d) if len(d) else (np.nan, np.nan)
            rows.append({"rule": rule, "recall_mean": r_mean, "recall_sem": r_sem,
                         "dprime_mean": d_mean, "dprime_sem": d_sem})
        return self._prefixed(rows)

    def summary(self) -> dict[str, Any]:
        """Mean and s.e.m. over splits of every score, with chance level."""
        table = self.split_table()
        row: dict[str, Any] = dict(self.keys)
        for score in ("accuracy", "balanced_accuracy", "dprime"):
            row[f"{score}_mean"], row[f"{score}_sem"] = metrics.mean_sem(table[score])
        row["chance"] = 1.0 / len(self.classes)
        row["n_splits"] = len(self.outcomes)
        row["n_test_mean"] = float(table["n_test"].mean())
        row["selection_seconds"] = float(table["selection_seconds"].sum())
        return row

    def summary_table(self) -> pd.DataFrame:
        return pd.DataFrame([self.summary()])

    @property
    def accuracy(self) -> tuple[float, float]:
        """Mean and s.e.m. of test accuracy over splits."""
        return metrics.mean_sem([o.scores["accuracy"] for o in self.outcomes])


def labelled(features: FeatureSet) -> FeatureSet:
    """The labelled examples, or a clear error when there are none."""
    data = features.labelled()
    if len(data) == 0:
        raise DecodeError("no example has a learning rule to learn from",
                          "decode a dataset with labelled runs (learning_rule set in runs.parquet)")
    return data


def run_protocol(
    features: FeatureSet,
    splits: Sequence[Split],
    *,
    classifier: str = "rf",
    grouped_inner: bool = False,
    exhaustive: bool = False,
    seed: int = 0,
    n_jobs: int = 1,
    inner_folds: int = 5,
    inner_groups: np.ndarray | None = None,
    keys: dict[str, Any] | None = None,
    after_split: Callable[[SplitOutcome, Pipeline, FeatureSet], None] | None = None,
    keep_models: bool = False,
    params: Sequence[dict[str, Any]] | None = None,
    reporter: Reporter = SILENT,
) -> ProtocolRun:
    """Fit and test one classifier on every split of the labelled examples.

    grouped_inner: choose hyperparameters with run-grouped inner folds (use it whenever the
    outer split is grouped, else the inner CV would reward memorising runs); `inner_groups`
    (the outer split's groups, e.g. twins) groups the inner folds by those instead.
    after_split(outcome, model, test_features) is called while the fitted model is at hand;
    models are not kept unless keep_models. ``params`` (one dict per split) fits those
    hyperparameters instead of choosing them.
    """
    if params is not None and len(params) != len(splits):
        raise ValueError(f"{len(params)} sets of hyperparameters for {len(splits)} splits")
    spec = get_classifier(classifier)
    data = labelled(features)
    labels = data.labels.astype(str)
    groups = data.groups if inner_groups is None else np.asarray(inner_groups)
    grouped_inner = grouped_inner or inner_groups is not None
    run = ProtocolRun(keys=dict(keys or {"classifier": classifier}), classes=data.classes)
    reporter.start(" ".join(str(v) for v in run.keys.values()) + " (splits)", len(splits))
    for i, split in enumerate(splits):
        train = data.subset(split.train)
        test = data.subset(split.test)
        selection = select_model(spec, train.X, labels[split.train],
                                 groups=groups[split.train] if grouped_inner else None, layout=data.layout,
                                 exhaustive=exhaustive, inner_folds=inner_folds, random_state=seed + i,
                                 n_jobs=n_jobs, reporter=reporter, params=None if params is None else params[i])
        model = selection.model
        with limited_threads(n_jobs):
            proba = model.predict_proba(test.X)
        predicted = np.asarray(model.classes_)[proba.argmax(axis=1)].astype(str)
        outcome = SplitOutcome(split=split, classes=run.classes, y_true=labels[split.test], y_pred=predicted,
                               proba=proba, selection=selection)
        if after_split is not None:
            after_split(outcome, model, test)
        if not keep_models:
            selection.model = None  # type: ignore[assignment]
        run.outcomes.append(outcome)
        reporter.advance()
    reporter.finish()
    return run


def evaluate(
    features: FeatureSet,
    *,
    classifier: str = "rf",
    split: str = "paper",
    n_splits: int = 10,
    test_fraction: float = 0.25,
    seed: int = 0,
    exhaustive: bool = False,
    n_jobs: int = 1,
    keys: dict[str, Any] | None = None,
    after_split: Callable[[SplitOutcome, Pipeline, FeatureSet], None] | None = None,
    params: Sequence[dict[str, Any]] | None = None,
    reporter: Reporter = SILENT,
) -> ProtocolRun:
    """The paper's protocol (``split="paper"``), or its run-grouped (``"grouped"``) or twin-grouped (``"twins"``)
    variant."""
    data = labelled(features)
    groups = split_groups(split, data.examples, data.groups)
    splits = make_splits(split, data.labels.astype(str), groups, n_splits=n_splits,
                         test_fraction=test_fraction, seed=seed)
    return run_protocol(features, splits, classifier=classifier, inner_groups=groups,
                        exhaustive=exhaustive, seed=seed, n_jobs=n_jobs,
                        keys=keys or {"classifier": classifier, "split": split},
                        after_split=after_split, params=params, reporter=reporter)


@dataclass(frozen=True)
class Protocol:
    """How an analysis decodes: which classifiers, on which kinds of split, how many splits of
    what test share, the seed, the model selection (exhaustive grid or the cheaper default) and
    the parallel jobs. Every analysis runs its feature sets through `Protocol.each`, the one loop
    over classifiers x split kinds."""

    classifiers: Sequence[str] = ("rf",)
    splits: Sequence[str] = ("paper",)
    n_splits: int = 10
    test_fraction: float = 0.25
    seed: int = 0
    exhaustive: bool = False
    n_jobs: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "classifiers", tuple(dict.fromkeys(self.classifiers)))
        object.__setattr__(self, "splits", tuple(dict.fromkeys(self.splits)))

    def each(
        self,
        features: Any,
        keys: dict[str, Any] | None = None,
        *,
        after: dict[str, Any] | None = None,
        evaluator: Callable[..., ProtocolRun] = evaluate,
        params: Callable[[str, str], Sequence[dict[str, Any]] | None] | None = None,
        after_split: Callable[[SplitOutcome, Pipeline, FeatureSet], None] | None = None,
        reporter: Reporter = SILENT,
    ) -> list[ProtocolRun]:
        """One run per (classifier, split kind), in that order, of `evaluator` (`evaluate`, or
        e.g. `lrdecode.limits.evaluate_redrawn` with a function of the split as ``features``).

        Each run's keys are ``keys``, then classifier and split, then ``after``. ``params(classifier,
        kind)`` gives fixed hyperparameters per split (None: choose them); ``after_split`` is passed
        on to `evaluate`.
        """
        runs = []
        for classifier in self.classifiers:
            for kind in self.splits:
                extra: dict[str, Any] = {}
                if params is not None:
                    extra["params"] = params(classifier, kind)
                if after_split is not None:
                    extra["after_split"] = after_split
                runs.append(evaluator(features, classifier=classifier, split=kind, n_splits=self.n_splits,
                                      test_fraction=self.test_fraction, seed=self.seed, exhaustive=self.exhaustive,
                                      n_jobs=self.n_jobs,
                                      keys={**(keys or {}), "classifier": classifier, "split": kind, **(after or {})},
                                      reporter=reporter, **extra))
        return runs
