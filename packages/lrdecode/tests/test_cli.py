"""The `lrdecode` command: every subcommand on a small dataset, and friendly errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import skops.io as sio
from typer.testing import CliRunner, Result

from lrdecode import cli

runner = CliRunner()


def invoke(*args: object) -> Result:
    result = runner.invoke(cli.app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def test_evaluate_prints_the_scores_and_writes_json_csv_and_figures(small_dir: Path, tmp_path: Path):
    result = invoke("evaluate", small_dir, "--classifier", "logreg", "--splits", "2", "--out", tmp_path, "-q")
    assert result.exit_code == 0, result.output
    assert "dropped weight.raw.skew: NaN in" in result.output
    assert "6 unlabelled example(s) set aside for `lrdecode predict`" in result.output
    assert all(kind in result.output for kind in ("paper", "grouped", "twins")) and " ± " in result.output
    assert {p.name for p in tmp_path.iterdir()} == {
        "evaluate.json", "evaluate_summary.csv", "evaluate_splits.csv", "evaluate_confusion.csv",
        "evaluate_classes.csv", "evaluate_accuracy.png", "evaluate_confusion.png"}
    assert json.loads((tmp_path / "evaluate.json").read_text())["settings"]["splits"] == ["paper", "grouped", "twins"]


def test_fit_then_predict_names_the_rule_of_each_run(small_dir: Path, tmp_path: Path):
    model = tmp_path / "model.skops"
    fitted = invoke("fit", small_dir, "--classifier", "rf", "--out", model, "-q")
    assert fitted.exit_code == 0, fitted.output
    assert "rf on 66 example(s) of 4 rules" in fitted.output and f"wrote {model}" in fitted.output
    predicted = invoke("predict", model, small_dir, "--out", tmp_path / "predictions")
    assert predicted.exit_code == 0, predicted.output
    assert "run0000_sgdm" in predicted.output and "p_sgdm" in predicted.output
    assert "22 run(s) have a known rule" in predicted.output
    assert (tmp_path / "predictions" / "predictions_runs.csv").read_text().startswith("run_id,learning_rule")


def test_generalize_importance_pairwise_and_averaged(small_dir: Path, tmp_path: Path):
    held = invoke("generalize", small_dir, "--hold-out", "architecture", "-c", "logreg", "--out", tmp_path, "-q")
    assert held.exit_code == 0, held.output
    assert "net_a" in held.output and "mean over levels" in held.output
    importance = invoke("importance", small_dir, "--splits", "2", "--repeats", "1", "--out", tmp_path, "-q")
    assert importance.exit_code == 0, importance.output
    assert "gini_mean" in importance.output and "rf accuracy" in importance.output
    pairs = invoke("pairwise", small_dir, "-c", "logreg", "--splits", "2", "--out", tmp_path, "-q")
    assert pairs.exit_code == 0 and pairs.output.count("logreg") >= 6
    control = invoke("averaged", small_dir, "-c", "logreg", "--splits", "2", "--out", tmp_path, "-q")
    assert control.exit_code == 0 and "averaged" in control.output and "trajectory" in control.output
    assert {"held_out_held_out.png", "importance_importance.png", "pairwise_pairwise.png",
            "averaged_averaged.png"} <= {p.name for p in tmp_path.iterdir()}


@pytest.mark.parametrize(("args", "message"), [
    (["evaluate", "no-such-data", "--out", "x"], "dataset no-such-data does not exist"),
    (["evaluate", "{data}", "--classifier", "xgboost", "--out", "{tmp}"], "unknown classifier 'xgboost'"),
    (["evaluate", "{data}", "--where", "task", "--out", "{tmp}"], "write COLUMN=VALUE"),
    (["evaluate", "{data}", "--where", "architecture=net_z", "--out", "{tmp}"], "choose among the values present"),
    (["evaluate", "{data}", "--statistic", "act.raw.q3", "--out", "{tmp}"], "not among the observables of the data"),
    (["generalize", "{data}", "--hold-out", "task", "--out", "{tmp}"], "single task"),
    (["importance", "{data}", "--split", "both", "--out", "{tmp}"], "one split kind"),
    (["predict", "{tmp}/missing.skops", "{data}"], "does not exist"),
])
def test_bad_input_gets_one_clear_line_and_exit_status_1(small_dir: Path, tmp_path: Path, args, message):
    result = invoke(*[a.format(data=small_dir, tmp=tmp_path) for a in args])
    assert result.exit_code == 1
    assert message in result.output and result.output.startswith("error: ")


def test_predict_refuses_a_model_file_with_unknown_types(small_dir: Path, tmp_path: Path):
    evil = tmp_path / "evil.skops"
    sio.dump({"format": "lrdecode-model", "pipeline": Path("/")}, evil)
    result = invoke("predict", evil, small_dir)
    assert result.exit_code == 1 and "does not trust: pathlib" in result.output


def test_a_bug_is_reported_without_a_traceback(small_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import lrdecode.analyses

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(lrdecode.analyses, "evaluate_measures", broken)
    result = invoke("evaluate", small_dir, "--out", tmp_path)
    assert result.exit_code == 1
    assert "internal error (RuntimeError: boom)" in result.output and "LRDECODE_DEBUG=1" in result.output


def test_listing_classifiers_and_module_entry_point():
    listing = invoke("classifiers")
    assert listing.exit_code == 0
    assert [line.split()[0] for line in listing.output.splitlines() if not line.startswith(" ")] == [
        "rf", "svm", "conv1d", "logreg", "hgb"]
    completed = subprocess.run([sys.executable, "-m", "lrdecode", "--version"], capture_output=True, text=True,
                               check=True)
    assert completed.stdout.strip() == "lrdecode 0.1.0"


def test_min_metric_says_how_many_runs_it_left_out(tmp_path: Path):
    from shared_schema import Dataset
    from shared_schema.synthetic import synthetic_dataset

    from .conftest import write

    dataset = synthetic_dataset(runs_per_rule=4, n_layers=3, n_checkpoints=4, seed=3)
    runs = dataset.runs.copy()
    runs["final_metric"] = [0.1 if i % 4 == 0 else 0.9 for i in range(len(runs))]
    data = write(tmp_path / "data", Dataset(runs, dataset.observables))
    result = invoke("evaluate", data, "-c", "logreg", "--splits", "2", "--min-metric", "0.5", "--out", tmp_path / "r",
                    "-q")
    assert "--min-metric 0.5 left out 4 run(s) whose final metric is below it or missing; 12 run(s) remain" in (
        result.output.replace("\n", " "))
