"""The `lrdecode` command: every subcommand on a small dataset, and friendly errors."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from dataclasses import replace
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

    registered = lrdecode.analyses.ANALYSES["evaluate"]
    # the CLI runs the registry's entry
    monkeypatch.setitem(lrdecode.analyses.ANALYSES, "evaluate", replace(registered, run=broken))
    result = invoke("evaluate", small_dir, "--out", tmp_path)
    assert result.exit_code == 1
    assert "internal error (RuntimeError: boom)" in result.output and "LRDECODE_DEBUG=1" in result.output


def test_every_registered_analysis_is_a_command_with_the_shared_options_once():
    from lrdecode.analyses import ANALYSES
    from lrdecode.cli.analyses import COMMANDS

    assert sorted(c.analysis for c in COMMANDS) == sorted(ANALYSES)
    for command in COMMANDS:
        names = list(inspect.signature(command.function()).parameters)
        assert len(names) == len(set(names)), command.name
        assert {"data", "out", "classifier", "seed", "exhaustive", "n_jobs", "quiet"} <= set(names), command.name


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


def test_example_recording_without_pynwb_writes_the_rest_and_says_how_to_get_nwb(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "pynwb", None)  # import pynwb raises ImportError
    result = invoke("example-recording", tmp_path / "ex")
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "ex").iterdir()} == {"simulated", "recording.npz", "recording.csv"}
    assert "NWB files skipped" in result.output and "pip install './packages/lrdecode[nwb]'" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["ex"]


@pytest.mark.parametrize("existing", [False, True], ids=["new-dir", "empty-dir"])
def test_a_failed_example_recording_leaves_nothing_half_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                existing: bool):
    from lrdecode.recordings import RecordingError, examples

    real = examples.write_example

    def failing(path: Path, format: str, **options: object) -> list[Path]:
        if format == "csv":
            raise RecordingError("recording.csv: disk full")
        return real(path, format, **options)

    monkeypatch.setattr(examples, "write_example", failing)
    target = tmp_path / "ex"
    if existing:
        target.mkdir()
    result = invoke("example-recording", target)
    assert result.exit_code == 1
    assert "error: recording.csv: disk full" in result.output and "days" not in result.output
    assert [p.name for p in tmp_path.iterdir()] == (["ex"] if existing else [])
    assert not existing or not any(target.iterdir())


@pytest.mark.parametrize(("sessions", "message"), [
    ("0,20,9", "Fix: give increasing days within 0..20"),
    ("0,30", "Fix: give increasing days within 0..20"),
    ("0,x", "give days separated by commas"),
])
def test_bad_example_sessions_get_the_days_hint_and_write_nothing(tmp_path: Path, sessions: str, message: str):
    result = invoke("example-recording", tmp_path / "ex", "--sessions", sessions)
    assert result.exit_code == 1 and message in result.output
    assert not (tmp_path / "ex").exists()


def test_ingest_of_a_csv_without_time_reports_session_numbers_not_days(tmp_path: Path):
    import pandas as pd

    from lrdecode.recordings.examples import write_example

    path = write_example(tmp_path / "rec.csv", "csv", sessions=5, stimuli=4, units=3)[0]
    pd.read_csv(path).drop(columns=["time"]).to_csv(path, index=False)
    result = invoke("ingest", path, "--out", tmp_path / "out", "--position", "deep")
    assert result.exit_code == 0, result.output
    assert "read rec.csv: 5 sessions (no time column: session numbers 0, 1, 2, 3, 4); 4 stimuli" in result.output
    assert "days" not in result.output
