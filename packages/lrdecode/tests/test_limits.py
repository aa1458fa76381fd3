"""Measurement limits (paper §5, §6): trajectory subsampling, consecutive thirds, unit subsampling x
noise, and planning an experiment, on synthetic data whose answer is known.

The linear SVM is the classifier here: the synthetic rule signal is linear, and it is the
cheapest of the registry (a split in a fraction of a second on a shared 2-core machine).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import shared_schema as ss
from lrdecode import cli, limits
from lrdecode.analyses import consecutive_portions, plan_experiment, trajectory_subsampling, units_noise
from lrdecode.analyses.units_noise import reference_setting
from lrdecode.errors import DecodeError
from lrdecode.io.data import LoadedData, load
from lrdecode.reporting.figures import write_figures
from lrdecode.synthetic import synthetic_unit_dataset
from shared_schema.synthetic import synthetic_dataset

OBSERVABLES = ("act.abs.median", "act.raw.mean", "weight.raw.norm", "grad.abs.id")
runner = CliRunner()


def in_memory(dataset: ss.Dataset) -> LoadedData:
    return LoadedData(trajectories=dataset.trajectories(), sources=("synthetic",))


@pytest.fixture(scope="module")
def late_signal() -> LoadedData:
    """4 rules; the rule shows only in the last third of 9 checkpoints (signal_from 2/3)."""
    return in_memory(synthetic_dataset(runs_per_rule=8, n_layers=3, n_checkpoints=9, observables=OBSERVABLES,
                                       signal=3.0, signal_from=0.67, seed=3))


@pytest.fixture(scope="module")
def weak_smooth_signal() -> LoadedData:
    """A weak rule signal growing smoothly from the first checkpoint: more of the trajectory helps."""
    return in_memory(synthetic_dataset(runs_per_rule=8, n_layers=3, n_checkpoints=13, observables=OBSERVABLES,
                                       signal=0.6, seed=5))


@pytest.fixture(scope="module")
def settings_data() -> LoadedData:
    """Two measurement settings carried by the data: all units (1000 act units) and half of them."""
    return in_memory(synthetic_dataset(runs_per_rule=6, n_layers=3, n_checkpoints=9, observables=OBSERVABLES,
                                       signal=2.0, measurements=("all", "units=0.5"), seed=4))


@pytest.fixture(scope="module")
def units_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """FA vs IA with unit-level responses (12 units x 8 stimuli per layer), written with units.parquet."""
    path = tmp_path_factory.mktemp("units") / "data"
    return synthetic_unit_dataset(rules=("fa", "ia"), runs_per_rule=8, n_layers=3, n_checkpoints=5,
                                  signal=1.0, seed=0).write(path)


def cell(summary: pd.DataFrame, **where: object) -> pd.Series:
    rows = summary
    for column, value in where.items():
        rows = rows[rows[column] == value]
    assert len(rows) == 1, where
    return rows.iloc[0]


# ---------------------------------------------------------------- the reductions themselves


def test_subsampled_checkpoints_are_evenly_spaced_inside_the_trajectory_and_shared_by_a_runs_layers(late_signal):
    trajectories = late_signal.trajectories
    reduced = limits.subsample(trajectories, n_samples=3, period=3, seed=1)
    assert reduced.values.shape == (len(trajectories.examples), 3, len(trajectories.observables))
    first = reduced.epochs[:, 0].astype(int)  # synthetic epochs are the checkpoint numbers
    assert (np.diff(reduced.epochs, axis=1) == 3).all() and first.min() >= 0 and reduced.epochs.max() <= 8
    starts = pd.Series(first).groupby(trajectories.examples["run_id"].astype(str).to_numpy()).nunique()
    assert (starts == 1).all() and len(set(first)) == 3  # one start per run; every possible start drawn
    per_example = limits.subsample(trajectories, n_samples=3, period=3, seed=1, per="example")
    assert (pd.Series(per_example.epochs[:, 0]).groupby(trajectories.examples["run_id"].astype(str).to_numpy())
            .nunique() > 1).any()
    again = limits.subsample(trajectories, n_samples=3, period=3, seed=1)
    np.testing.assert_array_equal(again.values, reduced.values)  # seeded


def test_sampling_longer_than_the_trajectory_is_refused_with_what_would_fit():
    with pytest.raises(DecodeError, match=r"5 samples 3 checkpoint\(s\) apart span 13 checkpoints, but the "
                                          r"trajectories have 9.*at most 3 samples at this spacing"):
        limits.check_sampling(9, 5, 3)


def test_thirds_have_equal_length_and_cover_the_start_middle_and_end():
    portions = limits.thirds(21)
    assert {k: (int(v[0]), int(v[-1])) for k, v in portions.items()} == {
        "early": (0, 6), "middle": (7, 13), "late": (14, 20)}
    assert {k: (int(v[0]), int(v[-1])) for k, v in limits.thirds(10).items()} == {
        "early": (0, 2), "middle": (3, 5), "late": (7, 9)}


def test_unknown_or_single_rules_are_refused_naming_the_rules_present(settings_data):
    with pytest.raises(DecodeError, match=r"rule.s. kp are not in the data.*adam, fa, ia, sgdm"):
        limits.restrict_rules(settings_data, ["fa", "kp"])
    with pytest.raises(DecodeError, match="names one rule"):
        limits.restrict_rules(settings_data, ["fa"])
    kept = limits.restrict_rules(settings_data, ["fa", "ia"])
    assert set(kept.trajectories.examples["learning_rule"]) == {"fa", "ia"}


def test_measuring_again_with_every_unit_and_no_noise_reproduces_the_recorded_statistics(units_dir):
    data = load(units_dir)
    again = limits.measure_units(data, limits.load_units(data), [ss.FULL])
    np.testing.assert_allclose(again.trajectories.values, data.trajectories.values, rtol=0, atol=1e-12)
    assert again.trajectories.observables == data.trajectories.observables


def test_measuring_again_subsamples_units_and_refuses_more_units_than_recorded(units_dir):
    data = load(units_dir)
    units = limits.load_units(data)
    again = limits.measure_units(data, units, [ss.MeasurementSetting(units=3, noise_std=0.5, seed=2)])
    assert set(again.trajectories.examples["n_units_act"]) == {3}
    assert set(again.trajectories.examples["measurement"]) == {"units=3,noise=0.5,seed=2"}
    with pytest.raises(DecodeError, match="units=50 exceeds the 12 act units recorded"):
        limits.measure_units(data, units, [ss.MeasurementSetting(units=50)])


def test_a_dataset_without_unit_responses_says_how_to_get_them(signal_dir):
    with pytest.raises(DecodeError, match=r"no unit-level responses.*--from settings"):
        limits.load_units(load(signal_dir))


# ---------------------------------------------------------------- consecutive thirds


def test_signal_only_late_is_found_late_to_late_and_nowhere_else(late_signal):
    result = consecutive_portions(late_signal, classifier="svm", splits=("grouped",), n_splits=4)
    summary = result.summary
    assert len(summary) == 9 and (summary["chance"] == 0.25).all()
    assert cell(summary, train_portion="late", test_portion="late")["accuracy_mean"] > 0.9
    for train, test in [("early", "early"), ("early", "late"), ("middle", "middle"), ("late", "early")]:
        row = cell(summary, train_portion=train, test_portion=test)
        # chance within the spread of the mean (3 s.e.m., and at least 10 points for 4 splits)
        assert abs(row["accuracy_mean"] - 0.25) <= max(3 * row["accuracy_sem"], 0.1) + 0.05, (train, test, row)


def test_every_portion_is_tested_on_the_same_held_out_examples(late_signal):
    result = consecutive_portions(late_signal, classifier="svm", splits=("paper",), n_splits=2)
    splits = result.tables["splits"]
    assert splits.groupby("split_index")["n_test"].nunique().eq(1).all()
    assert len(splits) == 2 * 9 and set(result.settings["portions"]) == {"early", "middle", "late"}


# ---------------------------------------------------------------- trajectory subsampling


def test_more_samples_and_wider_periods_never_hurt_on_a_smooth_signal(weak_smooth_signal):
    result = trajectory_subsampling(weak_smooth_signal, periods=(1, 3), sample_counts=(2, 5), classifier="svm",
                                    splits=("grouped",), n_splits=4)
    summary = result.summary
    assert {(p, n) for p, n in zip(summary["period"], summary["n_samples"], strict=True)} == {
        (1, 2), (1, 5), (3, 2), (3, 5)}

    def no_worse(better: pd.Series, worse: pd.Series) -> bool:
        return better["accuracy_mean"] >= worse["accuracy_mean"] - 2 * np.hypot(better["accuracy_sem"],
                                                                                worse["accuracy_sem"])

    for period in (1, 3):
        assert no_worse(cell(summary, period=period, n_samples=5), cell(summary, period=period, n_samples=2))
    for n in (2, 5):
        assert no_worse(cell(summary, period=3, n_samples=n), cell(summary, period=1, n_samples=n))
    full_span = cell(summary, period=3, n_samples=5)
    assert full_span["accuracy_mean"] > 0.5 and full_span["span"] == 13


def test_cells_longer_than_the_trajectory_are_listed_not_scored(late_signal):
    result = trajectory_subsampling(late_signal, periods=(4,), sample_counts=(2, 3, 4), classifier="svm",
                                    splits=("paper",), n_splits=2)
    assert list(result.summary["n_samples"]) == [2, 3]
    assert result.settings["infeasible"] == [{"period": 4, "n_samples": 4, "span": 13}]
    with pytest.raises(DecodeError, match=r"no .period, samples. pair fits in the 9 checkpoints"):
        trajectory_subsampling(late_signal, periods=(5,), sample_counts=(3,), classifier="svm")


# ---------------------------------------------------------------- units x noise


def test_noise_destroys_fa_vs_ia_accuracy_monotonically_from_unit_responses(units_dir):
    result = units_noise(load(units_dir), source="units", units=("all",), noise=(0.0, 2.0, 50.0), classifier="svm",
                         splits=("grouped",), n_splits=4)
    summary = result.summary.sort_values("noise_std")
    assert list(summary["noise_std"]) == [0.0, 2.0, 50.0] and (summary["chance"] == 0.5).all()
    accuracy, sem = summary["accuracy_mean"].to_numpy(), summary["accuracy_sem"].to_numpy()
    assert accuracy[0] > 0.85
    assert (np.diff(accuracy) <= 2 * np.hypot(sem[1:], sem[:-1])).all()  # never better with more noise
    assert abs(accuracy[-1] - 0.5) <= max(3 * sem[-1], 0.1) + 0.05  # chance under overwhelming noise


def test_units_noise_from_the_datas_settings_scores_every_measure_and_setting(settings_data, tmp_path: Path):
    result = units_noise(settings_data, rules=("fa", "ia"), classifier="svm", splits=("grouped",), n_splits=2)
    summary = result.summary
    assert list(dict.fromkeys(summary["measure"])) == ["weight", "act", "grad", "all"]
    assert set(summary["measurement"]) == {"all", "units=0.5"} and (summary["chance"] == 0.5).all()
    assert cell(summary, measure="act", measurement="units=0.5")["units_measured"] == 500
    assert set(result.tables["settings"]["measurement"]) == {"all", "units=0.5"}
    assert [p.name for p in write_figures(result, tmp_path)] == ["units_noise_units_noise.png"]


def test_units_noise_chooses_hyperparameters_at_the_reference_setting_and_refits_them_elsewhere(settings_data):
    result = units_noise(settings_data, rules=("fa", "ia"), measures=("act",), classifier="rf", splits=("paper",),
                         n_splits=2)
    splits = result.tables["splits"]
    reference = splits[splits["measurement"] == "all"]
    other = splits[splits["measurement"] == "units=0.5"]
    assert not reference["selection_method"].eq("given hyperparameters").any()
    assert other["selection_method"].eq("given hyperparameters").all()
    assert list(other["params"]) == list(reference["params"])  # split by split
    assert result.settings["select_at"] == "reference"
    assert result.tables["settings"].set_index("measurement")["reference"].to_dict() == {"all": True,
                                                                                         "units=0.5": False}


def test_units_noise_can_choose_hyperparameters_in_every_cell(settings_data):
    result = units_noise(settings_data, rules=("fa", "ia"), measures=("act",), classifier="svm", splits=("paper",),
                         n_splits=2, select_at="each")
    assert not result.tables["splits"]["selection_method"].eq("given hyperparameters").any()
    with pytest.raises(DecodeError, match="unknown --select-at 'once'"):
        units_noise(settings_data, rules=("fa", "ia"), measures=("act",), select_at="once")


def test_units_noise_refuses_to_reuse_hyperparameters_across_settings_of_other_examples(settings_data):
    examples = settings_data.trajectories.examples
    keep = ~((examples["measurement"].astype(str) == "units=0.5") & (examples["layer"].astype(str) == "layer0"))
    uneven = limits.with_trajectories(settings_data, settings_data.trajectories.select(examples=keep.to_numpy()))
    refusal = (r"setting 'units=0\.5' holds other examples than the reference setting 'all'\. "
               r"Fix: decode with --select-at each")
    with pytest.raises(DecodeError, match=refusal):
        units_noise(uneven, rules=("fa", "ia"), measures=("act",), classifier="svm", splits=("paper",), n_splits=2)
    result = units_noise(uneven, rules=("fa", "ia"), measures=("act",), classifier="svm", splits=("paper",),
                         n_splits=2, select_at="each")
    assert set(result.summary["measurement"]) == {"all", "units=0.5"}


def test_the_reference_setting_is_the_ideal_instrument_or_the_best_measured():
    grid = pd.DataFrame({"measurement": ["units=0.1,noise=1", "units=0.5", "units=0.5,noise=1", "units=0.1"],
                         "units_measured": [10.0, 50.0, 50.0, 10.0], "noise_std": [1.0, 0.0, 1.0, 0.0]})
    assert reference_setting(grid) == "units=0.5"
    assert reference_setting(pd.concat([grid, pd.DataFrame({"measurement": ["all"], "units_measured": [100.0],
                                                            "noise_std": [0.0]})])) == "all"


# ---------------------------------------------------------------- plan


def test_plan_uses_the_nearest_setting_and_grouped_splits(settings_data, tmp_path: Path):
    result = plan_experiment(settings_data, n_units=400, sessions=3, spacing=2, noise_std=0.0, classifier="svm",
                             n_splits=3)
    plan = result.summary.iloc[0]
    assert plan["measurement"] == "units=0.5" and plan["units_measured"] == 500 and plan["split"] == "grouped"
    assert plan["accuracy_mean"] > plan["chance"] and plan["span"] == 5
    surface = result.tables["surface"]
    assert set(surface["units_measured"]) == {500.0, 1000.0} and set(surface["sessions"]) == {1, 2, 3, 4, 5}
    assert [p.name for p in write_figures(result, tmp_path)] == ["plan_plan.png"]


@pytest.mark.parametrize(("request_", "message"), [
    ({"n_units": 40, "sessions": 3, "spacing": 2}, "no measurement setting of the data is close to 40 units"),
    ({"n_units": 1000, "sessions": 3, "spacing": 2, "noise_std": 1.0}, "close to 1000 units with noise 1"),
    ({"n_units": 1000, "sessions": 6, "spacing": 2}, "too short for this plan: 6 samples 2 checkpoint"),
])
def test_plan_refuses_what_the_simulation_cannot_answer(settings_data, request_: dict, message: str):
    with pytest.raises(DecodeError, match=message):
        plan_experiment(settings_data, classifier="svm", n_splits=2, surface="none", **request_)


# ---------------------------------------------------------------- command line


def invoke(*args: object):
    result = runner.invoke(cli.app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def test_cli_subsample_and_consecutive_write_json_csv_and_figures(small_dir: Path, tmp_path: Path):
    sub = invoke("subsample", small_dir, "-c", "svm", "--period", "1", "--period", "2", "--samples", "2",
                 "--samples", "3", "--split", "grouped", "--splits", "2", "--out", tmp_path, "-q")
    assert sub.exit_code == 0, sub.output
    assert "rows period, columns n_samples" in sub.output and " ± " in sub.output
    assert {"subsample.json", "subsample_summary.csv", "subsample_splits.csv", "subsample_subsample.png"} <= {
        p.name for p in tmp_path.iterdir()}
    assert json.loads((tmp_path / "subsample.json").read_text())["settings"]["periods"] == [1, 2]
    con = invoke("consecutive", small_dir, "-c", "svm", "--split", "paper", "--splits", "2", "--out", tmp_path, "-q")
    assert con.exit_code == 0, con.output
    assert "portions (checkpoints): early 0-0; middle 2-2; late 4-4" in con.output
    assert {"consecutive.json", "consecutive_summary.csv", "consecutive_consecutive.png"} <= {
        p.name for p in tmp_path.iterdir()}


def test_cli_units_noise_from_unit_responses_and_plan(units_dir: Path, tmp_path: Path):
    heat = invoke("units-noise", units_dir, "--from", "units", "--units", "3,all", "--noise", "0,1", "--rules",
                  "fa,ia", "-c", "svm", "--split", "grouped", "--splits", "2", "--out", tmp_path, "-q")
    assert heat.exit_code == 0, heat.output
    assert "rows units, columns noise_std" in heat.output
    assert "hyperparameters chosen per measure and split at the reference setting (act: all)" in heat.output
    assert (tmp_path / "units_noise_units_noise.png").stat().st_size > 0
    assert len(pd.read_csv(tmp_path / "units_noise_summary.csv")) == 4
    planned = invoke("plan", units_dir, "--units", "12", "--sessions", "2", "--spacing", "2", "-c", "svm",
                     "--splits", "2", "--out", tmp_path, "-q")
    assert planned.exit_code == 0, planned.output
    assert "limits: 12 units -> 12 measured (measurement setting all); noise s.d. 0 -> 0" in planned.output
    assert "expected accuracy with 2 session(s) 2 checkpoint(s) apart" in planned.output
    assert (tmp_path / "plan_plan.png").exists() and (tmp_path / "plan_surface.csv").exists()


def test_cli_refusals_are_one_clear_line(units_dir: Path, tmp_path: Path):
    too_long = invoke("plan", units_dir, "--units", "12", "--sessions", "4", "--spacing", "2", "--out", tmp_path)
    assert too_long.exit_code == 1
    assert "too short for this plan: 4 samples 2 checkpoint(s) apart span 7 checkpoints" in too_long.output
    bad_noise = invoke("units-noise", units_dir, "--from", "units", "--noise", "0,loud", "--out", tmp_path)
    assert bad_noise.exit_code == 1 and "cannot read '0,loud' (--noise)" in bad_noise.output


def _nan_at_one_checkpoint(data: LoadedData, example: int = 1, checkpoint: int = 7) -> LoadedData:
    """The data with one example's act.raw.mean NaN at one checkpoint (a run's layer that blew up once)."""
    values = data.trajectories.values.copy()
    values[example, checkpoint, data.trajectories.observables.index("act.raw.mean")] = np.nan
    return LoadedData(trajectories=replace(data.trajectories, values=values), sources=data.sources)


def test_cuts_and_redraws_of_the_trajectory_keep_the_examples_the_whole_trajectory_kept(late_signal):
    data = _nan_at_one_checkpoint(late_signal)
    consecutive = consecutive_portions(data, classifier="logreg", splits=("paper",), n_splits=2)
    assert consecutive.tables["splits"].groupby("split_index")["n_test"].nunique().eq(1).all()
    features = consecutive.data["features"]["all"]
    assert len(features["dropped_examples"]) == 1 and not features["dropped_statistics"]
    subsampled = trajectory_subsampling(data, periods=(1,), sample_counts=(3,), classifier="logreg",
                                        splits=("paper",), n_splits=3)
    assert len(subsampled.summary) == 1 and subsampled.summary["accuracy_mean"].notna().all()


def test_a_plan_from_unit_responses_measures_exactly_its_units_and_noise_and_leaves_out_smaller_layers(
        units_dir: Path, tmp_path: Path):
    dataset = ss.read_dataset(units_dir)
    units = dataset.units
    small = ~((units["layer"].astype(str) == "layer2") & (units["unit"] >= 4))  # layer2 keeps 4 of 12 units
    path = ss.write_dataset(tmp_path / "small-layer", dataset.runs, dataset.observables, units=units[small])
    result = plan_experiment(load(path), n_units=6, sessions=2, spacing=2, noise_std=0.5, classifier="logreg",
                             n_splits=2, source="units")
    row = result.summary.iloc[0]
    assert row["measurement"] == "units=6,noise=0.5" and row["units_measured"] == 6 and row["noise_std"] == 0.5
    assert result.settings["left_out_layers"] == [{"layer": "layer2", "runs": 16, "units": 4}]
    assert set(result.tables["surface"]["measurement"]) == {"units=1,noise=0.5", "units=3,noise=0.5",
                                                            "units=6,noise=0.5", "units=12,noise=0.5"}
    with pytest.raises(DecodeError, match=r"no layer has 20 recorded units \(the most: 12\)"):
        plan_experiment(load(path), n_units=20, sessions=2, spacing=2, classifier="logreg", source="units")
