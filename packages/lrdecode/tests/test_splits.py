"""Splits: category-balanced, disjoint, seeded; run-grouped splits never split a run; held-out levels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrdecode.decoding.splits import grouped_splits, held_out_splits, inner_cv, paper_splits, twin_keys, twin_splits
from lrdecode.errors import DecodeError


def runs_of(rules: list[int], layers: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Labels and run ids of examples: run i has rule rules[i] and layers[i] layers."""
    labels = np.concatenate([[f"rule{r}"] * n for r, n in zip(rules, layers, strict=True)])
    groups = np.concatenate([[f"run{i}"] * n for i, n in enumerate(layers)])
    return labels, groups


def test_paper_splits_are_balanced_disjoint_and_cover_a_quarter():
    labels = np.repeat(["adam", "fa", "ia", "sgdm"], [40, 40, 44, 48])
    splits = paper_splits(labels, n_splits=10, seed=3)
    assert len(splits) == 10
    for split in splits:
        assert not set(split.train) & set(split.test)
        test_counts = pd.Series(labels[split.test]).value_counts()
        train_counts = pd.Series(labels[split.train]).value_counts()
        assert set(test_counts) == {10} and set(train_counts) == {30}  # 25%/75% of the smallest rule
    assert len({tuple(s.test) for s in splits}) == 10
    again = paper_splits(labels, n_splits=10, seed=3)
    assert all(np.array_equal(a.test, b.test) and np.array_equal(a.train, b.train)
               for a, b in zip(splits, again, strict=True))


@settings(max_examples=40, deadline=None)
@given(runs=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 5)), min_size=12, max_size=40),
       seed=st.integers(0, 2**16), fraction=st.sampled_from([0.2, 0.25, 0.34]))
def test_grouped_splits_never_split_a_run_and_balance_runs_per_rule(runs, seed, fraction):
    rules = [r for r, _ in runs]
    counts = np.bincount(rules, minlength=4)
    labels, groups = runs_of(rules, [n for _, n in runs])
    present = counts[counts > 0]
    if len(present) < 2 or present.min() < 3:
        with pytest.raises(DecodeError):
            grouped_splits(labels, groups, n_splits=3, test_fraction=fraction, seed=seed)
        return
    for split in grouped_splits(labels, groups, n_splits=3, test_fraction=fraction, seed=seed):
        train_runs, test_runs = set(groups[split.train]), set(groups[split.test])
        assert not train_runs & test_runs
        assert not set(split.train) & set(split.test)
        for side in (train_runs, test_runs):  # whole runs only
            assert sum((groups == g).sum() for g in side) == len(split.train if side is train_runs else split.test)
        per_rule = pd.DataFrame({"g": groups, "r": labels}).drop_duplicates()
        test_per_rule = per_rule[per_rule["g"].isin(test_runs)]["r"].value_counts()
        train_per_rule = per_rule[per_rule["g"].isin(train_runs)]["r"].value_counts()
        assert test_per_rule.nunique() == 1 and train_per_rule.nunique() == 1
        assert len(test_per_rule) == len(present) == len(train_per_rule)
        assert test_per_rule.iloc[0] == max(1, round(fraction * present.min()))


def test_a_run_with_two_rules_is_refused():
    labels, groups = runs_of([0, 1, 0, 1, 0, 1], [2] * 6)
    labels[1] = "rule1"
    with pytest.raises(DecodeError, match="run run0 has examples of more than one learning rule"):
        grouped_splits(labels, groups)


def test_too_few_examples_or_one_rule_are_explained():
    with pytest.raises(DecodeError, match="one learning rule"):
        paper_splits(["a"] * 10)
    with pytest.raises(DecodeError, match="too few examples per rule"):
        paper_splits(["a", "a", "b", "b"])
    with pytest.raises(DecodeError, match="outside"):
        paper_splits(["a", "b"] * 10, test_fraction=1.5)


def test_held_out_levels_are_each_tested_once_and_never_trained_on():
    examples = pd.DataFrame({
        "architecture": ["a", "a", "b", "b", "c", "c"],
        "batch_size": pd.array([128, 256, 128, 256, 128, 256], dtype="Int64"),
        "dataset_seed": pd.array([None, 0, None, 0, 0, 0], dtype="Int64"),
        "task": ["t"] * 6,
    })
    splits = held_out_splits(examples, "architecture")
    assert [s.label for s in splits] == ["a", "b", "c"]
    assert sorted(np.concatenate([s.test for s in splits])) == list(range(6))
    for split in splits:
        assert set(examples["architecture"].iloc[split.train]) == {"a", "b", "c"} - {split.label}
    curriculum = held_out_splits(examples, "curriculum")
    assert [s.label for s in curriculum] == ["batch_size=128, dataset_seed=0", "batch_size=128, dataset_seed=null",
                                            "batch_size=256, dataset_seed=0"]
    assert list(curriculum[1].test) == [0, 2]
    with pytest.raises(DecodeError, match="single task"):
        held_out_splits(examples, "task")
    with pytest.raises(DecodeError, match="no column 'optimizer'"):
        held_out_splits(examples, "optimizer")


def test_grouped_inner_folds_keep_runs_whole():
    labels, groups = runs_of([0, 1, 2, 3] * 4, [3] * 16)
    cv = inner_cv(labels, groups, n_folds=5, seed=0)
    assert cv.get_n_splits() == 4  # four runs per rule: four folds at most
    for train, val in cv.split(np.zeros((len(labels), 1)), labels, groups):
        assert not set(groups[train]) & set(groups[val])
    assert inner_cv(labels, None, n_folds=5).get_n_splits() == 5


def _twin_runs() -> pd.DataFrame:
    """5 rules x (3 seeded initialisations + 1 unseeded run each), 2 layers a run."""
    rows = []
    for rule in ("sgdm", "adam", "fa", "ia", "kp"):
        for init in range(4):
            for layer in range(2):
                rows.append({"run_id": f"{rule}-{init}", "learning_rule": rule, "task": "digits",
                             "architecture": "knet4" if init % 2 else "knet5", "batch_size": 32,
                             "model_seed": None if init == 3 else init, "dataset_seed": 0, "layer": layer})
    return pd.DataFrame(rows).astype({"model_seed": "Int64"})


def test_twin_keys_join_every_rule_of_one_initialisation_and_leave_unseeded_runs_alone():
    examples = _twin_runs()
    keys = twin_keys(examples)
    by_key = pd.Series(examples["learning_rule"].to_numpy()).groupby(keys).nunique()
    assert len(by_key) == 3 + 5 and (by_key[[k for k in by_key.index if not k.startswith("run|")]] == 5).all()
    assert (by_key[[k for k in by_key.index if k.startswith("run|")]] == 1).all()


def test_twin_splits_never_put_twins_on_both_sides_and_put_every_rule_on_each():
    examples = _twin_runs()
    keys = twin_keys(examples)
    labels = examples["learning_rule"].to_numpy()
    splits = twin_splits(labels, keys, n_splits=10, test_fraction=0.25, seed=3)
    assert len({tuple(s.test) for s in splits}) > 1
    for split in splits:
        assert not set(keys[split.train]) & set(keys[split.test])
        assert set(labels[split.train]) == set(labels[split.test]) == set(labels)
    one_initialisation = (examples["model_seed"] == 0).fillna(False).to_numpy()
    with pytest.raises(DecodeError, match="too few initialisations for a twin-grouped split"):
        twin_splits(labels[one_initialisation], keys[one_initialisation], n_splits=2)


def test_evaluate_on_twin_splits_keeps_every_initialisation_on_one_side(signal_data):
    from lrdecode.decoding.features import build_features
    from lrdecode.decoding.protocol import evaluate

    features = build_features(signal_data.trajectories, measure="act")
    run = evaluate(features, classifier="logreg", split="twins", n_splits=2)
    keys = twin_keys(features.labelled().examples)
    for outcome in run.outcomes:
        assert not set(keys[outcome.split.train]) & set(keys[outcome.split.test])
