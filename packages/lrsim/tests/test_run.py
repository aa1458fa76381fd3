"""`lrsim run`: one real training run to one valid dataset, interrupted, resumed, diverged."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import lrsim.run as run_module
from lrsim.cli import app
from lrsim.rules import RULES
from lrsim.run import RunError, execute_run, observation_steps
from lrsim.spec import RunSpec
from shared_schema import parse_learning_curve, read_dataset, validate_dataset

KNET4_LAYERS = 4


def tiny(rule: str = "sgdm", **changes) -> RunSpec:
    settings = {"rule": rule, "architecture": "knet4", "task": "digits", "batch_size": 64, "width": 0.25,
                "epochs": 2, "checkpoints": 5, "probe_size": 32, "model_seed": 0, "dataset_seed": 0}
    return RunSpec(**(settings | changes))


def comparable(observables: pd.DataFrame) -> pd.DataFrame:
    text = ("run_id", "layer", "layer_position", "measure", "function", "statistic", "measurement")
    frame = observables.astype(dict.fromkeys(text, str))
    keys = ["layer_index", "measurement", "measure", "function", "statistic", "checkpoint"]
    return frame.sort_values(keys).reset_index(drop=True)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_a_two_epoch_knet4_digits_run_gives_a_valid_dataset_of_every_statistic(tmp_path: Path, rule: str):
    spec = tiny(rule, checkpoints=21, measurements=("units=0.5,noise=0.1",))
    outcome = execute_run(spec, tmp_path / "run")
    assert outcome.status == "complete"
    assert validate_dataset(outcome.path).ok
    data = read_dataset(outcome.path)
    counts = data.observables.groupby("measurement", observed=True).size()
    assert counts.to_dict() == {"all": 45 * KNET4_LAYERS * 21, "units=0.5,noise=0.1": 45 * KNET4_LAYERS * 21}
    run = data.runs.iloc[0]
    assert (run["learning_rule"], run["architecture"], run["task"]) == (rule, "knet4", "digits")
    assert run["metric_name"] == "top1_accuracy" and 0.0 <= run["final_metric"] <= 1.0
    epochs = data.trajectories().epochs[0]
    assert epochs[0] == 0.0 and epochs[-1] == 2.0 and np.all(np.diff(epochs) > 0)
    assert not (tmp_path / "run.partial").exists()


def test_a_run_records_its_learning_curve_from_the_initialisation_to_its_final_metric(tmp_path: Path):
    data = read_dataset(execute_run(tiny("fa", epochs=3), tmp_path / "run").path)
    run = data.runs.iloc[0]
    curve = parse_learning_curve(run["learning_curve"])
    assert [p["epoch"] for p in curve] == [0.0, 1.0, 2.0, 3.0]
    assert curve[0]["metric"] < 0.2 and curve[-1]["metric"] == pytest.approx(run["final_metric"])
    assert all(p["loss"] > 0 for p in curve) and curve[-1]["loss"] == pytest.approx(run["final_loss"])


def test_a_rule_option_reaches_the_rule_and_is_recorded_with_the_run(tmp_path: Path):
    spec = tiny("ia", epochs=1, checkpoints=2, rule_options=(("alpha", 0.02),))
    run = read_dataset(execute_run(spec, tmp_path / "run").path).runs.iloc[0]
    hyperparameters = json.loads(run["hyperparameters"])
    assert hyperparameters["spec"]["rule_options"] == [["alpha", 0.02]]
    assert hyperparameters["rule_options_used"] == {"alpha": 0.02, "beta": 1e-3, "gamma": 1e-3}
    with pytest.raises(RunError, match=r"other settings \(rule_options: asked \(\), recorded \(\('alpha', 0.02\),\)"):
        execute_run(tiny("ia", epochs=1, checkpoints=2), tmp_path / "run", resume=True)


def test_observation_points_span_the_schedule_from_initialisation():
    assert observation_steps(100, 5) == [0, 25, 50, 75, 100]
    with pytest.raises(RunError, match="21 checkpoints need at least 20 optimizer steps, but the run has only 10"):
        observation_steps(10, 21)


def test_a_huge_learning_rate_ends_diverged_with_the_checkpoints_so_far(tmp_path: Path):
    outcome = execute_run(tiny("sgdm", base_lr=1e6, checkpoints=9), tmp_path / "run")
    assert outcome.status == "diverged" and "step" in outcome.detail
    data = read_dataset(outcome.path)
    run = data.runs.iloc[0]
    assert run["status"] == "diverged" and run["status_detail"] == outcome.detail
    kept = data.observables["checkpoint"].max() + 1
    assert 1 <= kept < 9 and outcome.checkpoints == kept


def test_observing_time_counts_the_probe_pass_setup_and_the_dataset_write(tmp_path: Path, monkeypatch):
    """The observables' share of a run includes their setup and final write, not only the checkpoints."""
    pause = 0.3

    def slowly(function):
        def wrapper(*args, **kwargs):
            time.sleep(pause)
            return function(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(run_module, "ProbePass", slowly(run_module.ProbePass))
    monkeypatch.setattr(run_module, "_assemble", slowly(run_module._assemble))
    outcome = execute_run(tiny(epochs=1, checkpoints=2), tmp_path / "run")
    assert outcome.observe_seconds >= 2 * pause
    assert outcome.observe_seconds < outcome.seconds


def interrupt_at_point(spec: RunSpec, out: Path, point: int, monkeypatch) -> None:
    """Run `spec` into `out` as if Ctrl-C came when observation point `point` began."""
    measure = run_module.measure

    def measure_until_interrupted(layers, settings, *, run_id, checkpoint):
        if checkpoint == point:
            raise KeyboardInterrupt
        return measure(layers, settings, run_id=run_id, checkpoint=checkpoint)

    with monkeypatch.context() as patch:
        patch.setattr(run_module, "measure", measure_until_interrupted)
        with pytest.raises(KeyboardInterrupt):
            execute_run(spec, out)


def test_an_interrupted_run_resumes_to_the_same_dataset(tmp_path: Path, monkeypatch):
    spec = tiny("ia", epochs=3, checkpoints=7, record_units=3)
    reference = read_dataset(execute_run(spec, tmp_path / "reference").path)

    interrupt_at_point(spec, tmp_path / "run", 5, monkeypatch)
    assert not (tmp_path / "run").exists() and (tmp_path / "run.partial" / "checkpoints").is_dir()
    with pytest.raises(RunError, match="pass --resume to continue it"):
        execute_run(spec, tmp_path / "run")
    with pytest.raises(RunError, match=r"other settings \(epochs: asked 4, recorded 3\)"):
        execute_run(tiny("ia", epochs=4, checkpoints=7, record_units=3), tmp_path / "run", resume=True)

    resumed = read_dataset(execute_run(spec, tmp_path / "run", resume=True).path)
    curves = [parse_learning_curve(d.runs["learning_curve"].iloc[0]) for d in (reference, resumed)]
    assert [p["epoch"] for p in curves[1]] == [0.0, 1.0, 2.0, 3.0]
    np.testing.assert_allclose([p["metric"] for p in curves[1]], [p["metric"] for p in curves[0]], atol=1e-6)
    a, b = comparable(reference.observables), comparable(resumed.observables)
    pd.testing.assert_frame_equal(a.drop(columns="value"), b.drop(columns="value"))
    np.testing.assert_allclose(b["value"], a["value"], rtol=1e-6, atol=1e-9, equal_nan=True)
    assert len(resumed.units) == len(reference.units) == 3 * 32 * KNET4_LAYERS * 7


def test_a_run_interrupted_under_the_earlier_layout_of_whole_tables_per_point_resumes_keeping_those_points(
        tmp_path: Path, monkeypatch):
    """Earlier lrsim versions kept each observation point as a whole Parquet table, with no
    labels file; a partial run left by one must still resume, and the points it holds (those
    before the epoch the training resumes from) go into the dataset exactly as they were."""
    spec = tiny("fa", epochs=2, checkpoints=5)
    reference = read_dataset(execute_run(spec, tmp_path / "reference").path)
    interrupt_at_point(spec, tmp_path / "run", 3, monkeypatch)
    observations = tmp_path / "run.partial" / "observations"
    labels = pd.read_parquet(observations / run_module.LABELS_FILE)
    tables = {}
    for index in range(3):  # rewrite the points as the earlier version left them
        values_file = observations / f"checkpoint-{index:04d}.npy"
        epoch = float(reference.observables.query("checkpoint == @index")["epoch"].iloc[0])
        tables[index] = run_module.rows(labels, np.load(values_file), checkpoint=index, epoch=epoch)
        tables[index].to_parquet(observations / f"checkpoint-{index:04d}.parquet", index=False)
        values_file.unlink()
    (observations / run_module.LABELS_FILE).unlink()

    measured_again = []
    measure = run_module.measure

    def recording_measure(layers, settings, *, run_id, checkpoint):
        measured_again.append(checkpoint)
        return measure(layers, settings, run_id=run_id, checkpoint=checkpoint)

    monkeypatch.setattr(run_module, "measure", recording_measure)
    resumed = read_dataset(execute_run(spec, tmp_path / "run", resume=True).path)
    pd.testing.assert_frame_equal(comparable(reference.observables).drop(columns="value"),
                                  comparable(resumed.observables).drop(columns="value"))
    kept = sorted(set(tables) - set(measured_again))
    assert kept, "the resumed run measured every point again: the earlier layout's files were not used"
    for index in kept:
        ours = comparable(resumed.observables.query("checkpoint == @index"))
        np.testing.assert_array_equal(ours["value"].to_numpy(), comparable(tables[index])["value"].to_numpy())


def test_resuming_without_the_labels_file_names_it_and_says_what_to_do(tmp_path: Path, monkeypatch):
    """Interrupted after the last point, a resumed run measures nothing new, so its values can
    only be labelled by the labels file; without it the run stops with a clear error."""
    spec = tiny("sgdm", epochs=2, checkpoints=5)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(run_module, "_assemble", interrupted)
        with pytest.raises(KeyboardInterrupt):
            execute_run(spec, tmp_path / "run")
    labels = tmp_path / "run.partial" / "observations" / run_module.LABELS_FILE
    labels.unlink()
    with pytest.raises(RunError, match=rf"{labels} is missing.*delete {tmp_path / 'run.partial'} and run again"):
        execute_run(spec, tmp_path / "run", resume=True)
    assert (tmp_path / "run.partial" / "observations" / "checkpoint-0004.npy").exists()  # nothing deleted


def test_an_existing_dataset_is_never_overwritten(tmp_path: Path):
    path = execute_run(tiny(), tmp_path / "run").path
    with pytest.raises(RunError, match="already exists"):
        execute_run(tiny(), path)
    assert execute_run(tiny(), path, resume=True).status == "complete"


def test_the_cli_runs_and_summarises(tmp_path: Path):
    result = CliRunner().invoke(app, [
        "run", "--out", str(tmp_path / "cli"), "--rule", "fa", "--arch", "knet4", "--width", "0.25", "--epochs", "2",
        "--checkpoints", "5", "--batch-size", "64", "--probe-size", "16", "--measure", "units=3"])
    assert result.exit_code == 0, result.output
    assert "complete: trained 2 epochs" in result.output and "5 checkpoints observed" in result.output
    assert ("target of fa on knet4 x digits (width 1/2, 15 epochs, batch 32): top1_accuracy >= 0.85; this run"
            in " ".join(result.output.split()))
    assert set(read_dataset(tmp_path / "cli").observables["measurement"].astype(str)) == {"all", "units=3"}


@pytest.mark.parametrize(("arguments", "message"), [
    (["--rule", "backprop2"], "unknown learning rule 'backprop2'"),
    (["--arch", "vgg"], "unknown architecture 'vgg'"),
    (["--task", "mnist"], "mnist"),
    (["--measure", "units=0"], "a unit count must be at least 1"),
    (["--model-seed", "x"], "a seed must be an integer >= 0 or 'none'"),
    (["--checkpoints", "500"], "500 checkpoints need at least 499 optimizer steps"),
    (["--rule-option", "alpha"], "--rule-option 'alpha': write NAME=NUMBER"),
    (["--rule", "ia", "--rule-option", "alpha=1", "--rule-option", "alpha=2"], "--rule-option alpha is given twice"),
    (["--rule-option", "alpha=1"], "learning rule 'sgdm' does not accept the options ['alpha']"),
])
def test_bad_options_get_one_clear_line_and_no_traceback(tmp_path: Path, arguments, message):
    result = CliRunner().invoke(app, ["run", "--out", str(tmp_path / "x"), "--epochs", "1", "--width", "0.25",
                                      *arguments])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
