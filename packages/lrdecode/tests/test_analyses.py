"""Analyses: per measure, pairwise, held-out factor, trajectory-averaged control, importance; their
results written as JSON + tidy CSV + PNG and read back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lrdecode.analyses import ANALYSES, evaluate_measures, held_out, importance, pairwise, trajectory_averaged
from lrdecode.io.data import load
from lrdecode.io.results import Result
from lrdecode.reporting.figures import write_figures
from shared_schema.synthetic import synthetic_dataset

from .conftest import write


def test_every_registered_analysis_can_be_plotted():
    assert set(ANALYSES) == {"evaluate", "pairwise", "held_out", "averaged", "importance", "subsample",
                             "consecutive", "units_noise", "plan"}
    assert all(analysis.plot is not None and analysis.title for analysis in ANALYSES.values())


def test_per_measure_evaluation_and_its_files(signal_data, tmp_path: Path):
    result = evaluate_measures(signal_data, measures=("weight", "act"), classifiers=("logreg",),
                               splits=("paper", "grouped"), n_splits=2)
    summary = result.summary
    assert list(zip(summary["measure"], summary["split"], strict=True)) == [
        ("weight", "paper"), ("weight", "grouped"), ("act", "paper"), ("act", "grouped")]
    assert (summary["accuracy_mean"] > summary["chance"]).all() and (summary["chance"] == 0.25).all()
    assert set(result.tables) == {"summary", "splits", "confusion", "classes"}
    assert len(result.tables["confusion"]) == 4 * 16 and len(result.tables["splits"]) == 4 * 2
    assert result.data["features"]["weight"]["dropped_statistics"][0]["statistic"] == "weight.raw.skew"

    paths = result.write(tmp_path) + write_figures(result, tmp_path)
    names = sorted(p.name for p in paths)
    assert names == ["evaluate.json", "evaluate_accuracy.png", "evaluate_classes.csv", "evaluate_confusion.csv",
                     "evaluate_confusion.png", "evaluate_splits.csv", "evaluate_summary.csv"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temporary files
    content = json.loads((tmp_path / "evaluate.json").read_text())
    assert content["format"] == "lrdecode-result" and content["analysis"] == "evaluate"
    back = Result.read(tmp_path / "evaluate.json")
    pd.testing.assert_frame_equal(back.summary, summary, check_dtype=False)
    csv = pd.read_csv(tmp_path / "evaluate_confusion.csv")
    assert list(csv.columns[:5]) == ["measure", "classifier", "split", "true", "predicted"]
    assert write_figures(back, tmp_path / "again")  # a result read back plots the same way


def test_pairwise_separation_of_every_pair(signal_data):
    result = pairwise(signal_data, classifiers=("logreg",), n_splits=2)
    pairs = set(zip(result.summary["rule_a"], result.summary["rule_b"], strict=True))
    assert pairs == {("adam", "fa"), ("adam", "ia"), ("adam", "sgdm"), ("fa", "ia"), ("fa", "sgdm"), ("ia", "sgdm")}
    assert (result.summary["chance"] == 0.5).all() and (result.summary["accuracy_mean"] > 0.8).all()


def test_held_out_architecture_trains_without_the_level_it_tests(signal_data):
    result = held_out(signal_data, factor="architecture", classifiers=("rf",))
    levels = result.tables["levels"]
    assert list(levels["level"]) == ["net_a", "net_b"]
    examples = signal_data.trajectories.examples
    for _, row in levels.iterrows():
        assert row["n_test"] == (examples["architecture"] == row["level"]).sum()
        assert row["n_train"] == len(examples) - row["n_test"]
    assert (levels["accuracy"] > 0.8).all()
    overall = result.summary.iloc[0]
    assert overall["level"] == "mean over levels" and overall["n_levels"] == 2
    assert overall["accuracy_mean"] == pytest.approx(levels["accuracy"].mean())


def test_held_out_curriculum_levels_are_batch_size_by_dataset_seed(signal_data):
    result = held_out(signal_data, factor="curriculum", classifiers=("logreg",))
    runs = signal_data.trajectories.examples.drop_duplicates("run_id")
    combinations = runs[["batch_size", "dataset_seed"]].astype(str).drop_duplicates()
    levels = result.tables["levels"]
    assert len(levels) == len(combinations) > 1
    assert levels["level"].str.fullmatch(r"batch_size=\d+, dataset_seed=(0|null)").all()
    assert levels["n_test"].sum() == len(signal_data.trajectories.examples)


def test_trajectory_averaged_control_reports_both_feature_sets(signal_data):
    result = trajectory_averaged(signal_data, measures=("act",), classifiers=("logreg",), n_splits=2)
    assert list(result.summary["features"]) == ["trajectory", "averaged"]
    assert result.data["features"]["act/averaged"]["averaged"] is True


@pytest.fixture(scope="module")
def one_informative(tmp_path_factory: pytest.TempPathFactory):
    """Only weight.abs.median carries the rule; 12 statistics, 6 checkpoints."""
    observables = ("weight.raw.norm", "weight.raw.mean", "weight.abs.median", "weight.sq.var", "act.raw.mean",
                   "act.abs.norm", "act.abs.median", "act.sq.q3", "act.raw.var", "grad.raw.id", "grad.abs.id",
                   "grad.sq.id")
    dataset = synthetic_dataset(runs_per_rule=8, n_layers=4, n_checkpoints=6, observables=observables,
                                informative=("weight.abs.median",), signal=3.0, seed=4)
    return load(write(tmp_path_factory.mktemp("one") / "data", dataset))


def test_importance_ranks_the_informative_statistic_first(one_informative, tmp_path: Path):
    result = importance(one_informative, n_splits=3, repeats=3)
    summary = result.summary
    top = summary.iloc[0]
    assert top["statistic"] == "weight.abs.median"
    assert top["gini_rank"] == 1 and top["permutation_rank"] == 1
    assert top["gini_mean"] > 3 * summary["gini_mean"].iloc[1]
    assert top["permutation_mean"] > 0.2
    assert set(summary["statistic"]) >= {"position=early", "position=middle", "position=deep"}
    assert summary["gini_mean"].sum() == pytest.approx(1.0)  # every tree's importances sum to one
    by_split = result.tables["by_split"]
    assert set(by_split["kind"]) == {"gini", "permutation"} and by_split["split"].nunique() == 3
    assert result.tables["accuracy"]["accuracy_mean"].iloc[0] > 0.9
    assert [p.name for p in write_figures(result, tmp_path)] == ["importance_importance.png"]


def test_permutation_importance_alone_for_classifiers_without_gini(one_informative):
    result = importance(one_informative, classifier="logreg", n_splits=2, repeats=2)
    assert "gini_mean" not in result.summary
    assert result.summary.iloc[0]["statistic"] == "weight.abs.median"
    assert np.isfinite(result.summary["permutation_sem"]).all()
