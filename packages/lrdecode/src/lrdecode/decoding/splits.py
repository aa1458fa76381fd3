"""Train/test splits of the protocol, and the inner cross-validation for hyperparameters.

- ``paper``: the original study's ten category-balanced 75%/25% splits of examples (layers):
  every rule gets the same number of train and of test examples.
- ``grouped``: the same, but of runs: all layers (and all measurement settings) of one run
  fall on one side, because the layers of one network are correlated. Every rule gets the
  same number of train runs and of test runs.
- ``twins``: of initialisations: every run that shares an architecture and a model seed
  (lrsim starts them from the same weights, whatever the rule, task, batch size or data
  order) falls on one side, so no test run has a twin in training. Unseeded runs have none.
- held-out factor: train on every other level of a run factor, test on one level.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator, StratifiedGroupKFold, StratifiedKFold

from lrdecode.errors import DecodeError

SPLIT_KINDS: tuple[str, ...] = ("paper", "grouped", "twins")
#: the run columns that make runs twins: the same initial weights
TWIN_COLUMNS = ("architecture", "model_seed")
# Held-out factors: name -> run columns whose combined value is one level.
FACTORS: dict[str, tuple[str, ...]] = {
    "architecture": ("architecture",),
    "curriculum": ("batch_size", "dataset_seed"),
    "task": ("task",),
}


@dataclass(frozen=True)
class Split:
    """Row indices of one train/test split, with a label for tables."""

    train: np.ndarray
    test: np.ndarray
    label: str

    def to_dict(self) -> dict[str, object]:
        return {"label": self.label, "n_train": len(self.train), "n_test": len(self.test)}


def _per_class_counts(n_min: int, test_fraction: float, what: str) -> tuple[int, int]:
    if not 0.0 < test_fraction < 1.0:
        raise DecodeError(f"test fraction {test_fraction} is outside (0, 1)", "use e.g. 0.25 (the paper's)")
    n_test = max(1, round(test_fraction * n_min))
    n_train = n_min - n_test
    if n_train < 2:
        raise DecodeError(f"too few {what} per rule for a {1 - test_fraction:.0%}/{test_fraction:.0%} split "
                          f"(the smallest rule has {n_min})",
                          f"add {what}, or select fewer rules")
    return n_train, n_test


def paper_splits(labels: Sequence[str], *, n_splits: int = 10, test_fraction: float = 0.25,
                 seed: int = 0) -> list[Split]:
    """Category-balanced splits of examples: per rule, the same number of train and test examples."""
    labels = np.asarray(labels).astype(str)
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise DecodeError("the data holds one learning rule only", "decoding needs examples of two rules or more")
    n_train, n_test = _per_class_counts(int(counts.min()), test_fraction, "examples")
    rng = np.random.default_rng(seed)
    splits = []
    for i in range(n_splits):
        train, test = [], []
        for c in classes:
            rows = rng.permutation(np.flatnonzero(labels == c))
            test.append(rows[:n_test])
            train.append(rows[n_test:n_test + n_train])
        splits.append(Split(np.sort(np.concatenate(train)), np.sort(np.concatenate(test)), f"split {i}"))
    return splits


def grouped_splits(labels: Sequence[str], groups: Sequence[str], *, n_splits: int = 10,
                   test_fraction: float = 0.25, seed: int = 0) -> list[Split]:
    """Category-balanced splits of runs: a run's examples are all in train or all in test."""
    labels = np.asarray(labels).astype(str)
    groups = np.asarray(groups).astype(str)
    frame = pd.DataFrame({"label": labels, "group": groups})
    per_group = frame.groupby("group", sort=True)["label"].agg(["nunique", "first"])
    if (per_group["nunique"] > 1).any():
        run = per_group.index[per_group["nunique"] > 1][0]
        raise DecodeError(f"run {run} has examples of more than one learning rule",
                          "give every run a single learning_rule in runs.parquet")
    classes, counts = np.unique(per_group["first"], return_counts=True)
    if len(classes) < 2:
        raise DecodeError("the data holds one learning rule only", "decoding needs examples of two rules or more")
    n_train, n_test = _per_class_counts(int(counts.min()), test_fraction, "runs")
    rows_of = {g: np.flatnonzero(groups == g) for g in per_group.index}
    rng = np.random.default_rng(seed)
    splits = []
    for i in range(n_splits):
        train, test = [], []
        for c in classes:
            runs = rng.permutation(per_group.index[per_group["first"] == c].to_numpy())
            test += [rows_of[g] for g in runs[:n_test]]
            train += [rows_of[g] for g in runs[n_test:n_test + n_train]]
        splits.append(Split(np.sort(np.concatenate(train)), np.sort(np.concatenate(test)), f"split {i}"))
    return splits


def twin_keys(examples: pd.DataFrame) -> np.ndarray:
    """Each example's initialisation: its run's TWIN_COLUMNS as text, or its run id when it is unseeded."""
    missing = [c for c in TWIN_COLUMNS if c not in examples]
    if missing:
        raise DecodeError(f"the runs have no column {missing[0]!r}, so their twins are unknown",
                          "use --split paper or grouped, or decode runs that record their seeds")
    parts = [examples[c].astype(object).map(lambda v: "null" if pd.isna(v) else str(v)).to_numpy()
             for c in TWIN_COLUMNS]
    keys = np.array(["|".join(values) for values in zip(*parts, strict=True)], dtype=object)
    unseeded = examples["model_seed"].isna().to_numpy()
    keys[unseeded] = "run|" + examples["run_id"].astype(str).to_numpy()[unseeded]
    return keys.astype(str)


def twin_splits(labels: Sequence[str], twins: Sequence[str], *, n_splits: int = 10, test_fraction: float = 0.25,
                seed: int = 0) -> list[Split]:
    """Splits of initialisations: all runs of one initialisation (every rule's) fall on one side."""
    labels = np.asarray(labels).astype(str)
    twins = np.asarray(twins).astype(str)
    classes = np.unique(labels)
    if len(classes) < 2:
        raise DecodeError("the data holds one learning rule only", "decoding needs examples of two rules or more")
    keys = np.unique(twins)
    n_test = max(1, round(test_fraction * len(keys)))
    if len(keys) - n_test < 2:
        raise DecodeError(f"too few initialisations for a twin-grouped split ({len(keys)}: runs that share an "
                          "architecture and a model seed count once)",
                          "add runs of other seeds, or use --split grouped")
    rng = np.random.default_rng(seed)
    splits = []
    for i in range(n_splits):
        for _ in range(100):  # redraw until every rule is on both sides
            test_keys = rng.permutation(keys)[:n_test]
            in_test = np.isin(twins, test_keys)
            if set(labels[in_test]) == set(labels[~in_test]) == set(classes):
                break
        else:
            raise DecodeError("no twin-grouped split puts every rule on both sides",
                              "add runs of more initialisations, or use --split grouped")
        splits.append(Split(np.flatnonzero(~in_test), np.flatnonzero(in_test), f"split {i}"))
    return splits


def split_groups(kind: str, examples: pd.DataFrame, runs: np.ndarray) -> np.ndarray | None:
    """What a split of `kind` keeps together, also in the inner cross-validation: None (examples), runs or twins."""
    if kind == "paper":
        return None
    if kind == "grouped":
        return runs
    if kind == "twins":
        return twin_keys(examples)
    raise DecodeError(f"unknown split {kind!r}", f"use one of {', '.join(SPLIT_KINDS)}")


def make_splits(kind: str, labels: Sequence[str], groups: Sequence[str] | None, *, n_splits: int = 10,
                test_fraction: float = 0.25, seed: int = 0) -> list[Split]:
    """Splits of one kind; `groups` is `split_groups(kind, ...)` (ignored by ``paper``)."""
    if kind == "paper":
        return paper_splits(labels, n_splits=n_splits, test_fraction=test_fraction, seed=seed)
    if kind not in SPLIT_KINDS:
        raise DecodeError(f"unknown split {kind!r}", f"use one of {', '.join(SPLIT_KINDS)}")
    if groups is None:
        raise ValueError(f"a {kind} split needs its groups (split_groups)")
    if kind == "grouped":
        return grouped_splits(labels, groups, n_splits=n_splits, test_fraction=test_fraction, seed=seed)
    return twin_splits(labels, groups, n_splits=n_splits, test_fraction=test_fraction, seed=seed)


def factor_levels(examples: pd.DataFrame, factor: str) -> tuple[tuple[str, ...], np.ndarray]:
    """The columns of a held-out factor and each example's level, as text (``batch_size=128, dataset_seed=0``)."""
    columns = FACTORS.get(factor, (factor,))
    missing = [c for c in columns if c not in examples]
    if missing:
        known = ", ".join([*FACTORS, "or any run column"])
        raise DecodeError(f"the runs have no column {missing[0]!r} for factor {factor!r}", f"use {known}")

    def text(value: object) -> str:
        return "null" if pd.isna(value) else str(value)

    parts = [examples[c].astype(object).map(text).to_numpy() for c in columns]
    if len(columns) == 1:
        return columns, parts[0].astype(str)
    levels = [", ".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))
              for values in zip(*parts, strict=True)]
    return columns, np.array(levels, dtype=str)


def held_out_splits(examples: pd.DataFrame, factor: str) -> list[Split]:
    """One split per level of the factor: test on that level, train on every other level."""
    _, levels = factor_levels(examples, factor)
    unique = sorted(set(levels))
    if len(unique) < 2:
        raise DecodeError(f"the data has a single {factor} ({unique[0]}), nothing to hold out",
                          f"hold out a factor that varies across runs, or add runs of another {factor}")
    return [Split(np.flatnonzero(levels != level), np.flatnonzero(levels == level), level) for level in unique]


def inner_cv(labels: Sequence[str], groups: Sequence[str] | None, *, n_folds: int = 5,
             seed: int = 0) -> BaseCrossValidator:
    """Folds for choosing hyperparameters on training data (grouped by run when ``groups`` given).

    Five folds as in the original study, fewer when a rule has fewer examples (or runs).
    """
    labels = np.asarray(labels).astype(str)
    if groups is None:
        smallest = int(np.unique(labels, return_counts=True)[1].min())
    else:
        frame = pd.DataFrame({"label": labels, "group": np.asarray(groups).astype(str)}).drop_duplicates()
        smallest = int(frame["label"].value_counts().min())
    folds = min(n_folds, smallest)
    if folds < 2:
        what = "runs" if groups is not None else "examples"
        raise DecodeError(f"a rule has a single training {what[:-1]}, too few to choose hyperparameters",
                          f"add {what}, or use a smaller test fraction")
    if groups is None:
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)

