"""Real recordings end to end: `lrdecode ingest`, decoders matched to a recording (`fit --match`),
and calibrated predictions that refuse recordings the model was not matched to."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from typer.testing import CliRunner, Result

from lrdecode import cli
from lrdecode.errors import DecodeError
from lrdecode.io.data import load
from lrdecode.io.model_files import load_model
from lrdecode.matching import (
    ACT_STATISTICS,
    MatchWarning,
    RecordingLimits,
    fit_matched,
    map_sessions,
    match_simulated,
    recording_limits,
)
from lrdecode.recordings.examples import example_responses, toy_responses, write_example, write_toy_example
from shared_schema import MeasurementSetting, read_dataset, read_datasets, write_dataset
from shared_schema.statistics import act_statistics, scale_degree
from shared_schema.synthetic import synthetic_dataset

runner = CliRunner()
FILES = {"npz": "rec.npz", "csv": "rec.csv", "nwb": "nwb"}
TOY = {"runs_per_rule": 4, "stimuli": 12, "units": 30, "recorded_units": 24, "noise": 0.2}


def invoke(*args: object) -> Result:
    result = runner.invoke(cli.app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Toy simulations (4 rules x 4 runs x 3 layers, 21 checkpoints, unit responses) and the recording of
    a new toy animal trained by `fa`: 24 of 30 units, noise 0.2, 5 sessions at days 0, 3, 9, 14, 20."""
    return write_toy_example(tmp_path_factory.mktemp("toy"), rule="fa", **TOY)


@pytest.fixture(scope="module")
def toy_recording(toy: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ingested") / "recording"
    result = invoke("ingest", toy["npz"][0], "--out", out, "--position", "deep")
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def matched_model(toy: dict[str, list[Path]], toy_recording: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = tmp_path_factory.mktemp("model") / "matched.skops"
    result = invoke("fit", toy["simulated"][0], "--match", toy_recording, "--noise", "0.2", "-c", "logreg",
                    "--splits", "3", "--out", model, "-q")
    assert result.exit_code == 0, result.output
    assert "checkpoints [0, 3, 9, 14, 20]" in result.output and "limits: 24 units -> 24 measured" in result.output
    assert "expected accuracy under these limits:" in result.output and "sigmoid" in result.output
    return model


# ---------------------------------------------------------------- ingest command


@pytest.mark.parametrize("kind", ["npz", "csv", "nwb"])
def test_ingest_command_round_trips_each_format(tmp_path: Path, kind: str):
    files = write_example(tmp_path / FILES[kind], kind, sessions=3, stimuli=6, units=7)
    given = tmp_path / FILES[kind] if kind == "nwb" else files[0]  # a directory of NWB files is accepted
    result = invoke("ingest", given, "--out", tmp_path / "out", "--position", "middle", "--area", "CA1",
                    "--task", "maze")
    assert result.exit_code == 0, result.output
    assert "3 sessions at days 0, 2, 4" in result.output and "area CA1: 7 units, position middle" in result.output
    data = read_dataset(tmp_path / "out")
    run = data.runs.iloc[0]
    assert run["source"] == "recording" and pd.isna(run["learning_rule"]) and run["task"] == "maze"
    trajectories = data.trajectories()
    assert trajectories.shape == (1, 3, 21) and set(trajectories.observables) == set(ACT_STATISTICS)
    example = trajectories.examples.iloc[0]
    assert (example["layer"], example["layer_position"], example["n_units_act"]) == ("CA1", "middle", 7)
    np.testing.assert_allclose(trajectories.epochs[0], [0.0, 2.0, 4.0])
    expected = example_responses(3, 6, 7)
    column = trajectories.observables.index("act.raw.q3")
    assert trajectories.values[0, 2, column] == pytest.approx(act_statistics(expected[2])["act.raw.q3"], rel=1e-12)


def test_ingest_command_takes_the_format_when_the_extension_does_not_say(tmp_path: Path):
    path = write_example(tmp_path / "rec.npz", "npz", sessions=3, stimuli=4, units=5)[0]
    renamed = path.rename(tmp_path / "rec.dat")
    refused = invoke("ingest", renamed, "--out", tmp_path / "a", "--position", "deep")
    assert refused.exit_code == 1 and "cannot tell the format of rec.dat" in refused.output
    assert invoke("ingest", renamed, "--format", "npz", "--out", tmp_path / "b", "-p", "deep").exit_code == 0


def _one_session(directory: Path) -> Path:
    np.savez(directory / "one.npz", responses=example_responses(1, 4, 3), session_times=[0.0])
    return directory / "one.npz"


def _backwards(directory: Path) -> Path:
    np.savez(directory / "back.npz", responses=example_responses(3, 4, 3), session_times=[0.0, 2.0, 1.0])
    return directory / "back.npz"


def _no_response_column(directory: Path) -> Path:
    path = write_example(directory / "rec.csv", "csv", sessions=3, stimuli=4, units=3)[0]
    pd.read_csv(path).drop(columns=["response"]).to_csv(path, index=False)
    return path


def _nan_unit(directory: Path) -> Path:
    responses = example_responses(3, 4, 3)
    responses[1, 0, 2] = np.nan
    np.savez(directory / "nan.npz", responses=responses, session_times=[0.0, 1.0, 2.0])
    return directory / "nan.npz"


@pytest.mark.parametrize(("make", "extra", "message"), [
    (_one_session, [], "only 1 session; a learning trajectory needs at least 2 sessions"),
    (_backwards, [], "session 2 (time 1) does not come after session 1"),
    (_no_response_column, [], "missing column(s) response"),
    (_nan_unit, ["--refuse-nan-units"], "1 unit(s) have missing (NaN) responses"),
    (lambda d: d / "absent.npz", [], "absent.npz: no such file"),
    (lambda d: write_example(d / "r.npz", "npz", sessions=3, stimuli=4, units=3)[0], ["--position", "top"],
     "position 'top' of area 'V1' is not one of early, middle, deep"),
])
def test_ingest_command_refuses_bad_recordings_in_one_line(tmp_path: Path, make, extra, message):
    path = make(tmp_path)
    args = ["ingest", path, "--out", tmp_path / "out", *(extra if "--position" in extra else [*extra, "-p", "deep"])]
    result = invoke(*args)
    assert result.exit_code == 1 and result.output.startswith("error: ") and message in result.output
    assert not (tmp_path / "out").exists()


def test_ingest_command_shows_dropped_units_as_a_warning(tmp_path: Path):
    result = invoke("ingest", _nan_unit(tmp_path), "--out", tmp_path / "out", "-p", "deep")
    assert result.exit_code == 0 and "warning:" in result.output and "dropped 1 of 3 unit(s)" in result.output
    assert read_dataset(tmp_path / "out").trajectories().examples.loc[0, "n_units_act"] == 2


def test_ingest_command_never_replaces_a_dataset_by_accident_or_with_a_bad_recording(tmp_path: Path):
    good = write_example(tmp_path / "good.npz", "npz", sessions=3, stimuli=4, units=5)[0]
    assert invoke("ingest", good, "--out", tmp_path / "out", "-p", "deep").exit_code == 0
    before = read_dataset(tmp_path / "out").observables
    again = invoke("ingest", good, "--out", tmp_path / "out", "-p", "deep")
    assert again.exit_code == 1 and "already exists" in again.output and "--overwrite" in again.output
    bad = invoke("ingest", _backwards(tmp_path), "--out", tmp_path / "out", "-p", "deep", "--overwrite")
    assert bad.exit_code == 1 and "does not come after" in bad.output
    pd.testing.assert_frame_equal(read_dataset(tmp_path / "out").observables, before)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["back.npz", "good.npz", "out"]  # no temporary left


def test_ingest_command_says_how_to_install_pynwb_when_it_is_missing(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch):
    files = write_example(tmp_path / "nwb", "nwb", sessions=2, stimuli=3, units=2)
    monkeypatch.setitem(sys.modules, "pynwb", None)  # import pynwb now raises ImportError
    result = invoke("ingest", *files, "--out", tmp_path / "out", "-p", "deep")
    assert result.exit_code == 1 and "pip install 'lrdecode[nwb]'" in result.output


def test_positions_per_area_and_late_as_deep(tmp_path: Path):
    units = 6
    np.savez(tmp_path / "two.npz", responses=example_responses(3, 4, units), session_times=[0.0, 1.0, 2.0],
             unit_areas=np.array(["V1"] * 3 + ["V4"] * 3))
    result = invoke("ingest", tmp_path / "two.npz", "--out", tmp_path / "out", "-p", "V1=early", "-p", "V4=late")
    assert result.exit_code == 0, result.output
    examples = read_dataset(tmp_path / "out").trajectories().examples
    assert dict(zip(examples["layer"], examples["layer_position"], strict=True)) == {"V1": "early", "V4": "deep"}


# ---------------------------------------------------------------- matching


def test_sessions_map_to_the_checkpoints_at_the_same_relative_times():
    positions = [0.0, 0.15, 0.45, 0.7, 1.0]  # days 0, 3, 9, 14, 20 of a 20-day recording
    assert map_sessions(positions, np.arange(21.0)).tolist() == [[0, 3, 9, 14, 20]]
    # epochs in other units or not starting at 0 map the same way, each example by its own epochs
    epochs = np.array([np.arange(21.0) * 5, 10 + np.arange(21.0) * 0.5])
    assert map_sessions(positions, epochs).tolist() == [[0, 3, 9, 14, 20]] * 2
    # a recording of the first half of training: positions land on 0..10
    assert map_sessions([0.0, 0.4, 1.0], np.arange(21.0), span=(0.0, 0.5)).tolist() == [[0, 4, 10]]
    assert map_sessions([0.0, 0.5, 1.0], np.arange(5.0), span=(0.5, 1.0)).tolist() == [[2, 3, 4]]


def test_sessions_closer_than_the_checkpoints_are_refused():
    with pytest.raises(DecodeError, match=r"sessions 1 and 2 \(relative times 0.400, 0.420\) fall on the same"):
        map_sessions([0.0, 0.4, 0.42, 1.0], np.arange(6.0))
    with pytest.raises(DecodeError, match=r"span 0\.5:0\.2"):
        map_sessions([0.0, 1.0], np.arange(6.0), span=(0.5, 0.2))


def test_matching_recomputes_statistics_from_the_recordings_unit_count_and_noise(toy, toy_recording):
    limits = recording_limits(read_dataset(toy_recording), source="rec")
    assert (limits.n_units, limits.n_sessions, limits.areas) == (24, 5, ("V1",))
    assert limits.noise_std is None and "no stimulus was shown more than once" in limits.noise_note
    matched = match_simulated(load(toy["simulated"][0]), limits, noise=0.2, seed=3, scale="absolute")
    trajectories = matched.trajectories
    assert trajectories.shape == (4 * 4 * 3, 5, 21)
    assert matched.account["checkpoints"] == [0, 3, 9, 14, 20] and matched.account["max_spacing_error"] == 0.0
    assert matched.account["units_from"].startswith("units.parquet")
    # independently: the same 24-unit draw and noise applied to the toy responses of one run and layer
    example = trajectories.examples.iloc[5]
    run, layer = str(example["run_id"]), str(example["layer"])
    rule, replicate = run.split("_")[1], int(run[3:6]) % 4
    rates = toy_responses(rule, checkpoints=21, stimuli=12, units=30, layer=int(layer[-1]),
                          seed=["sgdm", "adam", "fa", "ia"].index(rule) * 1000 + replicate)
    setting = MeasurementSetting(units=24, noise_std=0.2, seed=3)
    measured = setting.measure(rates[9], run_id=run, layer=layer, stream="act", checkpoint=9)
    column = trajectories.observables.index("act.abs.mean")
    assert trajectories.values[5, 2, column] == pytest.approx(act_statistics(measured)["act.abs.mean"], rel=1e-12)
    assert example["measurement"] == "units=24,noise=0.2,seed=3" and example["n_units_act"] == 24


def test_matching_without_unit_responses_takes_the_nearest_measurement_setting():
    dataset = synthetic_dataset(runs_per_rule=3, n_layers=2, n_checkpoints=11, observables=ACT_STATISTICS,
                                measurements=("all", "units=0.5"), seed=4)
    # act units: layer0 has 500 (all) or 250 (units=0.5); layer1 1000 or 500
    limits = RecordingLimits(source="rec", runs=("r",), areas=("A",), session_times=(0.0, 5.0, 10.0), n_units=300,
                             statistics=("act.raw.mean", "act.abs.median"), mean_square=1.0)
    matched = match_simulated(load_dataset(dataset), limits, noise=0.0)
    examples = matched.trajectories.examples
    chosen = examples.groupby("layer", observed=True)["measurement"].unique()
    assert list(chosen["layer0"]) == ["units=0.5"] and list(chosen["layer1"]) == ["units=0.5"]
    assert matched.account["units_used"] == {"min": 250.0, "median": 375.0, "max": 500.0}
    assert matched.trajectories.shape == (12 * 2, 3, 2) and matched.account["checkpoints"] == [0, 5, 10]
    limits_many = replace(limits, n_units=900)
    chosen = match_simulated(load_dataset(dataset), limits_many, noise=0.0).trajectories.examples
    assert set(chosen.loc[chosen["layer"] == "layer1", "measurement"]) == {"all"}


def load_dataset(dataset) -> object:
    """A synthetic Dataset as LoadedData, without going through disk."""
    from lrdecode.io.data import LoadedData

    return LoadedData(trajectories=dataset.trajectories(), sources=())


def test_noise_is_estimated_from_repeated_stimuli(tmp_path: Path):
    rng = np.random.default_rng(0)
    clean = example_responses(3, 10, 50)
    responses = np.concatenate([clean, clean], axis=1) + rng.normal(scale=0.3, size=(3, 20, 50))
    np.savez(tmp_path / "rep.npz", responses=responses, session_times=[0.0, 1.0, 2.0],
             stimulus_ids=np.tile(np.arange(10), 2))
    assert invoke("ingest", tmp_path / "rep.npz", "--out", tmp_path / "out", "-p", "deep").exit_code == 0
    limits = recording_limits(read_dataset(tmp_path / "out"))
    assert limits.noise_std == pytest.approx(0.3, rel=0.05) and "10 repeated stimulus id(s)" in limits.noise_note


def test_areas_with_different_unit_counts_need_one_model_each(tmp_path: Path):
    np.savez(tmp_path / "two.npz", responses=example_responses(3, 4, 9), session_times=[0.0, 1.0, 2.0],
             unit_areas=np.array(["V1"] * 6 + ["V4"] * 3))
    assert invoke("ingest", tmp_path / "two.npz", "--out", tmp_path / "out", "-p", "deep").exit_code == 0
    dataset = read_dataset(tmp_path / "out")
    with pytest.raises(DecodeError, match=r"area V4 has 3 units, run two area V1 has 6.*--match-area"):
        recording_limits(dataset)
    assert recording_limits(dataset, area="V4").n_units == 3


def test_noise_is_assumed_zero_with_a_warning_when_unknown(toy, toy_recording):
    with pytest.warns(MatchWarning, match=r"noise assumed 0: no stimulus was shown more than once.*--noise"):
        model = fit_matched(load(toy["simulated"][0]), toy_recording, classifier="logreg", n_splits=2)
    assert model.training["match"]["noise_std"] == 0.0
    assert model.training["match"]["noise_source"].startswith("assumed 0")


# ---------------------------------------------------------------- end to end and refusals


@pytest.mark.parametrize("kind", ["npz", "csv", "nwb"])
def test_a_recording_of_a_known_rule_is_predicted_as_that_rule(toy, matched_model, tmp_path: Path, kind: str):
    """A new toy animal trained by fa, recorded with 24 units and noise at 5 uneven sessions, in each format."""
    ingested = invoke("ingest", toy[kind][0] if kind != "nwb" else toy[kind][0].parent, "--out", tmp_path / "rec",
                      "-p", "deep", "--area", "V1")
    assert ingested.exit_code == 0, ingested.output
    result = invoke("predict", matched_model, tmp_path / "rec", "--out", tmp_path / "predictions")
    assert result.exit_code == 0, result.output
    assert "probabilities calibrated (sigmoid" in result.output
    assert "expected accuracy under these limits" in result.output
    areas = pd.read_csv(tmp_path / "predictions" / "predictions_areas.csv")
    assert len(areas) == 1 and areas.loc[0, "area"] == "V1" and areas.loc[0, "predicted"] == "fa"
    probabilities = areas.loc[0, ["p_adam", "p_fa", "p_ia", "p_sgdm"]]
    assert probabilities["p_fa"] > probabilities.drop("p_fa").max()
    assert probabilities.sum() == pytest.approx(1.0)
    report = json.loads((tmp_path / "predictions" / "predictions.json").read_text())
    assert report["calibration"]["method"] == "sigmoid" and report["areas"][0]["predicted"] == "fa"
    accuracy = report["expected_accuracy"][0]
    assert 0.25 < accuracy["mean"] <= 1.0 and accuracy["sem"] >= 0 and accuracy["split"] == "grouped"


def _ingest_npz(directory: Path, responses: np.ndarray, days: list[float]) -> Path:
    np.savez(directory / "other.npz", responses=responses, session_times=days, unit_areas=np.full(
        responses.shape[2], "V1"))
    result = invoke("ingest", directory / "other.npz", "--out", directory / "other", "-p", "deep")
    assert result.exit_code == 0, result.output
    return directory / "other"


def _without_statistic(directory: Path, recording: Path) -> Path:
    data = read_dataset(recording)
    observables = data.observables[~((data.observables["function"] == "sq")
                                     & (data.observables["statistic"] == "kurtosis"))]
    return write_dataset(directory / "fewer", data.runs, observables, units=data.units)


RATES = toy_responses("fa", checkpoints=21, stimuli=12, units=30, seed=99)


@pytest.mark.parametrize(("make", "message"), [
    (lambda d, r: _ingest_npz(d, RATES[[0, 5, 10, 20]][:, :, :24], [0, 5, 10, 20]),
     "has 4 sessions; the model was matched to 5"),
    (lambda d, r: _ingest_npz(d, RATES[[0, 10, 12, 14, 20]][:, :, :24], [0, 10, 12, 14, 20]),
     "has sessions at relative times 0.00, 0.50, 0.60, 0.70, 1.00; the model was matched to 0.00, 0.15, 0.45"),
    (lambda d, r: _ingest_npz(d, RATES[[0, 3, 9, 14, 20]][:, :, :10], [0, 3, 9, 14, 20]),
     "has 10 units; the model was matched to 24"),
    (_without_statistic, "lacks (or has non-finite) statistic(s) the model needs: act.sq.kurtosis"),
])
def test_predict_refuses_a_recording_the_model_was_not_matched_to(matched_model, toy_recording, tmp_path: Path,
                                                                   make, message):
    other = make(tmp_path, toy_recording)
    result = invoke("predict", matched_model, other)
    assert result.exit_code == 1 and result.output.startswith("error: ")
    assert message in result.output and "fit a model matched to this recording: lrdecode fit" in result.output
    assert f"--match {other}" in result.output


def test_a_matched_model_file_loads_with_its_limits_and_unknown_types_stay_refused(matched_model, tmp_path: Path):
    model = load_model(matched_model)
    assert type(model.pipeline).__name__ == "CalibratedClassifierCV" and model.layout.n_checkpoints == 5
    assert model.training["match"]["n_units"] == 24 and model.training["calibration"]["folds"] >= 2
    content = sio.load(matched_model, trusted=sio.get_untrusted_types(file=matched_model))
    content["parts"][0]["pipeline"].calibrated_classifiers_[0].calibrators[0] = Path("/")
    evil = tmp_path / "evil.skops"
    sio.dump(content, evil)
    with pytest.raises(DecodeError, match="does not trust: pathlib"):
        load_model(evil)


def test_example_recording_command_writes_every_format(tmp_path: Path):
    result = invoke("example-recording", tmp_path / "ex", "--units", "10", "--sessions", "0,10,20")
    assert result.exit_code == 0, result.output
    names = {p.name for p in (tmp_path / "ex").iterdir()}
    assert names == {"simulated", "recording.npz", "recording.csv", "recording-nwb"}
    assert len(list((tmp_path / "ex" / "recording-nwb").glob("*.nwb"))) == 3
    again = invoke("example-recording", tmp_path / "ex")
    assert again.exit_code == 1 and "is not empty" in again.output


# ---------------------------------------------------------------- areas, animals and honest matching


def _two_area_csv(path: Path, rule: str = "fa", seed: int = 7) -> Path:
    """One animal trained by `rule`, two areas in one CSV: V1 with 24 units (early), V4 with 16 (deep)."""
    frames = []
    for area, layer, units, first_id in (("V1", 0, 24, 0), ("V4", 2, 16, 100)):
        rates = toy_responses(rule, checkpoints=21, stimuli=12, units=30, layer=layer, seed=seed)[[0, 3, 9, 14, 20]]
        s, k, u = np.meshgrid(np.arange(5), np.arange(12), np.arange(units), indexing="ij")
        frames.append(pd.DataFrame({"session": s.ravel(), "time": np.array([0, 3, 9, 14, 20])[s.ravel()],
                                    "stimulus": k.ravel(), "unit": u.ravel() + first_id, "area": area,
                                    "response": rates[:, :, :units].ravel()}))
    pd.concat(frames).to_csv(path, index=False)
    return path


def test_a_recording_of_two_areas_with_other_unit_counts_goes_ingest_fit_predict_to_one_verdict(toy, tmp_path):
    recording = _two_area_csv(tmp_path / "animal.csv")
    assert invoke("ingest", recording, "--out", tmp_path / "rec", "-p", "V1=early", "-p", "V4=deep").exit_code == 0
    fitted = invoke("fit", toy["simulated"][0], "--match", tmp_path / "rec", "--noise", "0.2", "-c", "logreg",
                    "--splits", "3", "--out", tmp_path / "animal.skops", "-q")
    assert fitted.exit_code == 0, fitted.output
    assert "2 groups of areas with different limits: one matched model each" in fitted.output
    assert "(V1): 5 sessions" in fitted.output and "(V4): 5 sessions" in fitted.output
    assert "limits: 24 units -> 24 measured" in fitted.output and "limits: 16 units -> 16 measured" in fitted.output
    result = invoke("predict", tmp_path / "animal.skops", tmp_path / "rec", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    areas = pd.read_csv(tmp_path / "out" / "predictions_areas.csv")
    assert sorted(areas["area"]) == ["V1", "V4"] and sorted(areas["n_units"]) == [16, 24]
    animals = pd.read_csv(tmp_path / "out" / "predictions_animals.csv")
    assert len(animals) == 1 and animals.loc[0, "areas"] == 2 and animals.loc[0, "predicted"] == "fa"
    assert f"animal {animals.loc[0, 'animal']}: fa (p " in result.output


def _areas(p_first: list[float], p_second: list[float], in_distribution=(True, True)) -> pd.DataFrame:
    rows = []
    for area, p, ok in zip(("V1", "V4"), (p_first, p_second), in_distribution, strict=True):
        rows.append({"animal": "m1", "run_id": "m1", "area": area, "learning_rule": None, "in_distribution": ok,
                     "p_fa": p[0], "p_ia": p[1], "prior_fa": 10, "prior_ia": 10})
    return pd.DataFrame(rows)


def test_an_animals_verdict_multiplies_its_areas_calibrated_likelihoods():
    from lrdecode.matching import animal_verdicts

    verdict = animal_verdicts(_areas([0.6, 0.4], [0.6, 0.4]), ("fa", "ia")).iloc[0]
    assert verdict["predicted"] == "fa" and verdict["p_fa"] == pytest.approx(0.36 / (0.36 + 0.16))
    split = animal_verdicts(_areas([0.9, 0.1], [0.3, 0.7]), ("fa", "ia")).iloc[0]
    assert split["p_fa"] == pytest.approx(0.27 / (0.27 + 0.07)) and split["areas_used"] == 2


def test_an_area_unlike_every_simulation_is_left_out_of_its_animals_verdict():
    from lrdecode.matching import animal_verdicts

    verdict = animal_verdicts(_areas([0.9, 0.1], [0.2, 0.8], (True, False)), ("fa", "ia")).iloc[0]
    assert verdict["areas_used"] == 1 and verdict["p_fa"] == pytest.approx(0.9) and verdict["in_distribution"]
    flagged = animal_verdicts(_areas([0.9, 0.1], [0.2, 0.8], (False, False)), ("fa", "ia")).iloc[0]
    assert flagged["areas_used"] == 2 and not flagged["in_distribution"]


def test_simulated_layers_with_fewer_units_than_the_recording_are_left_out_not_the_unit_responses(toy, tmp_path):
    data = read_dataset(toy["simulated"][0])
    units = data.units[~((data.units["layer"].astype(str) == "layer2") & (data.units["unit"] >= 10))]
    small = write_dataset(tmp_path / "small-output-layer", data.runs, data.observables, units=units)
    limits = RecordingLimits(source="rec", runs=("r",), areas=("V1",), session_times=(0.0, 3.0, 9.0, 14.0, 20.0),
                             n_units=24, statistics=ACT_STATISTICS, mean_square=1.0)
    matched = match_simulated(load(small), limits, noise=0.2)
    assert matched.account["units_from"].startswith("units.parquet")
    assert set(matched.trajectories.examples["layer"].astype(str)) == {"layer0", "layer1"}
    assert matched.account["left_out_layers"] == [{"layer": "layer2", "runs": 16, "units": 10,
                                                   "reason": "fewer units than the recording's 24"}]


def test_matching_warns_when_no_simulated_setting_records_the_recordings_unit_count():
    dataset = synthetic_dataset(runs_per_rule=3, n_layers=2, n_checkpoints=11, observables=ACT_STATISTICS,
                                measurements=("all", "units=0.5"), seed=4)  # 250..1000 units measured
    limits = RecordingLimits(source="rec", runs=("r",), areas=("A",), session_times=(0.0, 5.0, 10.0), n_units=50,
                             statistics=("act.raw.mean", "act.abs.median"), mean_square=1.0)
    with pytest.warns(MatchWarning, match=r"cannot record 50 units like the recording: 24 of 24 layers use settings "
                                          r"of 250..500 units \(not within a factor 2\).*--record-units 50"):
        match_simulated(load_dataset(dataset), limits, noise=0.0)


def _recording(directory: Path, name: str, responses: np.ndarray) -> Path:
    np.savez(directory / f"{name}.npz", responses=responses, session_times=[0.0, 3.0, 9.0, 14.0, 20.0],
             unit_areas=np.full(responses.shape[2], "V1"))
    result = invoke("ingest", directory / f"{name}.npz", "--out", directory / name, "-p", "deep")
    assert result.exit_code == 0, result.output
    return directory / name


def test_noise_and_shuffled_sessions_are_flagged_unlike_every_simulation_and_a_real_animal_is_not(
        toy, matched_model, toy_recording, tmp_path: Path):
    noise = _recording(tmp_path, "noise", np.random.default_rng(1).normal(size=(5, 12, 24)))
    shuffled = _recording(tmp_path, "shuffled", RATES[[14, 0, 20, 3, 9]][:, :, :24])
    result = invoke("predict", matched_model, toy_recording, noise, shuffled, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    areas = pd.read_csv(tmp_path / "out" / "predictions_areas.csv").set_index("run_id")
    assert not areas.loc["noise", "in_distribution"] and not areas.loc["shuffled", "in_distribution"]
    assert areas.loc["recording", "in_distribution"]
    assert (areas.loc[["noise", "shuffled"], "novelty_score"] > areas.loc["noise", "novelty_threshold"]).all()
    assert "animal noise:" in result.output and "do not trust this verdict" in result.output
    assert "warning: noise area V1 is unlike every simulated network (novelty score" in result.output
    report = json.loads((tmp_path / "out" / "predictions.json").read_text())
    flags = {row["run_id"]: row["in_distribution"] for row in report["areas"]}
    assert flags == {"recording": True, "noise": False, "shuffled": False}


def test_a_constant_recording_is_flagged_by_a_model_matched_to_it(toy, tmp_path: Path):
    constant = _recording(tmp_path, "constant", np.full((5, 12, 24), 2.0))
    fitted = invoke("fit", toy["simulated"][0], "--match", constant, "--noise", "0.2", "-c", "logreg", "--splits",
                    "2", "--out", tmp_path / "constant.skops", "-q")
    assert fitted.exit_code == 0, fitted.output
    result = invoke("predict", tmp_path / "constant.skops", constant, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert not pd.read_csv(tmp_path / "out" / "predictions_animals.csv").loc[0, "in_distribution"]


def test_an_animals_verdict_does_not_depend_on_the_order_of_its_areas_when_their_priors_differ():
    from lrdecode.matching import animal_verdicts

    areas = _areas([0.6, 0.4], [0.3, 0.7])
    areas.loc[0, ["prior_fa", "prior_ia"]] = [30, 10]
    areas.loc[1, ["prior_fa", "prior_ia"]] = [10, 30]
    forward = animal_verdicts(areas, ("fa", "ia")).iloc[0]
    backward = animal_verdicts(areas.iloc[::-1].reset_index(drop=True), ("fa", "ia")).iloc[0]
    assert forward["p_fa"] == pytest.approx(backward["p_fa"])
    # likelihood ratios 0.6/0.75 x 0.3/0.25 against 0.4/0.25 x 0.7/0.75, times the mean prior (1/2, 1/2)
    assert forward["p_fa"] == pytest.approx(0.96 / (0.96 + 1.4933333), rel=1e-4)


def test_unit_responses_of_some_rules_only_fall_back_to_settings_with_a_warning(toy, tmp_path):
    data = read_dataset(toy["simulated"][0])
    fa_ia = data.runs.loc[data.runs["learning_rule"].isin(["fa", "ia"]), "run_id"].astype(str)
    units = data.units[data.units["run_id"].astype(str).isin(fa_ia)]
    partial = write_dataset(tmp_path / "partial-units", data.runs, data.observables, units=units)
    limits = RecordingLimits(source="rec", runs=("r",), areas=("V1",), session_times=(0.0, 3.0, 9.0, 14.0, 20.0),
                             n_units=24, statistics=ACT_STATISTICS, mean_square=1.0)
    with pytest.warns(MatchWarning, match=r"unit responses of 24 units or more cover 2 of the 4 rules' runs"):
        matched = match_simulated(load(partial), limits, noise=0.0)
    assert matched.account["units_from"].startswith("nearest measurement setting")
    assert set(matched.trajectories.examples["learning_rule"]) == {"sgdm", "adam", "fa", "ia"}


def test_one_area_with_other_unit_counts_in_two_recordings_is_refused_with_a_fix_that_applies(tmp_path: Path):
    from lrdecode.matching import area_groups

    for name, units in (("a", 6), ("b", 4)):
        np.savez(tmp_path / f"{name}.npz", responses=example_responses(3, 4, units), session_times=[0.0, 1.0, 2.0],
                 unit_areas=np.full(units, "V1"))
        assert invoke("ingest", tmp_path / f"{name}.npz", "--out", tmp_path / name, "-p", "deep").exit_code == 0
    both = read_datasets([tmp_path / "a", tmp_path / "b"])
    with pytest.raises(DecodeError, match=r"area V1 has other unit counts or sessions in runs a, b.*its own dataset"):
        area_groups(both)


@pytest.mark.parametrize(("animal", "message"), [
    ("m1=", "cannot read --animal 'm1='"),
    ("m1=nowhere", "--animal names run(s) not in the data: nowhere"),
    ("recording=other", "--animal names run(s) not in the data: other"),
])
def test_predict_refuses_animal_groupings_it_cannot_apply(matched_model, toy_recording, animal, message):
    result = invoke("predict", matched_model, toy_recording, "--animal", animal)
    assert result.exit_code == 1 and result.output.startswith("error: ") and message in result.output


def test_an_animal_named_like_a_run_it_does_not_hold_is_refused(matched_model, toy_recording, tmp_path: Path):
    other = _recording(tmp_path, "other", RATES[[0, 3, 9, 14, 20]][:, :, :24])
    result = invoke("predict", matched_model, toy_recording, other, "--animal", "recording=other")
    assert result.exit_code == 1
    assert "animal name recording is also the run id of a recording not given to it" in result.output


def test_a_recording_in_other_response_units_gets_the_same_prediction_and_novelty(matched_model, tmp_path: Path):
    responses = RATES[[0, 3, 9, 14, 20]][:, :, :24] + np.random.default_rng(5).normal(scale=0.2, size=(5, 12, 24))
    original = _recording(tmp_path, "original", responses)
    rescaled = _recording(tmp_path, "rescaled", 250.0 * responses)
    result = invoke("predict", matched_model, original, rescaled, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    areas = pd.read_csv(tmp_path / "out" / "predictions_areas.csv").set_index("run_id")
    columns = ["novelty_score", *[c for c in areas.columns if c.startswith("p_")]]
    assert len(columns) == 5
    np.testing.assert_allclose(areas.loc["rescaled", columns].to_numpy(float),
                               areas.loc["original", columns].to_numpy(float), rtol=1e-6)
    assert areas.loc["original", "predicted"] == areas.loc["rescaled", "predicted"]


def test_relative_scale_divides_each_statistic_by_the_first_sessions_rms_to_its_degree(toy, toy_recording):
    limits = recording_limits(read_dataset(toy_recording), source="rec")
    data = load(toy["simulated"][0])
    absolute = match_simulated(data, limits, noise=0.0, seed=3, scale="absolute").trajectories
    relative = match_simulated(data, limits, noise=0.0, seed=3).trajectories
    assert relative.observables == absolute.observables
    rms = np.sqrt(absolute.values[:, 0, absolute.observables.index("act.sq.mean")])
    for name in ("act.raw.mean", "act.abs.var", "act.sq.var", "act.raw.skew"):
        j = absolute.observables.index(name)
        expected = absolute.values[:, :, j] / rms[:, None] ** scale_degree(name)
        np.testing.assert_allclose(relative.values[:, :, j], expected, rtol=1e-12)
    np.testing.assert_allclose(relative.values[:, 0, relative.observables.index("act.sq.mean")], 1.0, rtol=1e-12)


def test_relative_noise_is_the_recordings_share_of_its_rms_applied_to_each_layers_own_rms(toy):
    limits = RecordingLimits(source="rec", runs=("r",), areas=("V1",), session_times=(0.0, 3.0, 9.0, 14.0, 20.0),
                             n_units=24, statistics=ACT_STATISTICS, mean_square=4.0 + 0.2 ** 2)
    matched = match_simulated(load(toy["simulated"][0]), limits, noise=0.2, seed=3)
    assert matched.account["noise_relative"] == pytest.approx(0.1)
    units = read_dataset(toy["simulated"][0]).units
    example = matched.trajectories.examples.iloc[7]
    first = units[(units["run_id"].astype(str) == str(example["run_id"]))
                  & (units["layer"].astype(str) == str(example["layer"])) & (units["checkpoint"] == 0)]
    assert example["noise_std"] == pytest.approx(0.1 * np.sqrt(np.mean(np.square(first["value"]))), rel=1e-12)
