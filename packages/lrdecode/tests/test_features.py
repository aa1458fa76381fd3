"""Reading and features: statistic-major trajectories + layer position, selections, non-finite drops,
unlabelled runs kept apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrdecode.data import load, parse_where
from lrdecode.errors import DecodeError
from lrdecode.features import POSITION_FEATURES, build_features, choose_observables, features_for_layout, to_sequence
from shared_schema import Dataset, observable_names
from shared_schema.synthetic import synthetic_dataset

from .conftest import write


def test_features_are_statistic_major_trajectories_then_the_position_one_hot(signal_data):
    trajectories = signal_data.trajectories
    features = build_features(trajectories, measure="act")
    layout = features.layout
    k = layout.n_checkpoints
    assert k == 6 and layout.n_features == len(layout.observables) * k + 3
    assert layout.feature_names[:k] == tuple(f"{layout.observables[0]}@{c}" for c in range(k))
    assert layout.feature_names[-3:] == POSITION_FEATURES
    rows = trajectories.examples["run_id"].astype(str).to_numpy()
    for example in (0, 7, len(features) - 1):
        layers = trajectories.examples["layer"].astype(str).to_numpy()
        source = np.flatnonzero((rows == features.examples["run_id"].iloc[example])
                                & (layers == features.examples["layer"].iloc[example]))[0]
        for s, name in enumerate(layout.observables):
            o = trajectories.observables.index(name)
            np.testing.assert_array_equal(features.X[example, s * k:(s + 1) * k], trajectories.values[source, :, o])
        np.testing.assert_array_equal(features.X[example, -3:], trajectories.position_onehot[source])


def test_measures_select_their_observables(signal_data):
    for measure in ("weight", "act", "grad"):
        layout = build_features(signal_data.trajectories, measure=measure).layout
        assert {o.split(".")[0] for o in layout.observables} == {measure}
    everything = build_features(signal_data.trajectories, measure="all").layout.observables
    assert len(everything) == 44  # 45 less the non-finite weight.raw.skew


def test_statistic_lists_take_observables_in_both_namings_and_bare_statistics():
    present = list(observable_names())
    assert choose_observables("act", ["median"], present) == ["act.raw.median", "act.abs.median", "act.sq.median"]
    assert choose_observables("all", ["actabs_median", "weight.raw.norm"], present) == [
        "weight.raw.norm", "act.abs.median"]
    with pytest.raises(DecodeError, match="not among the grad observables"):
        choose_observables("grad", ["act.abs.median"], present)
    with pytest.raises(DecodeError, match="'middle' is not defined for measure 'act'"):
        choose_observables("all", ["act.abs.middle"], present)
    with pytest.raises(DecodeError, match="unknown observable"):
        choose_observables("all", ["actabs_middle"], present)
    with pytest.raises(DecodeError, match="unknown measure"):
        choose_observables("spikes", None, present)


def test_non_finite_statistics_are_dropped_with_the_reason(signal_data):
    features = build_features(signal_data.trajectories)
    dropped = features.dropped.set_index("statistic")
    assert list(dropped.index) == ["weight.raw.skew"]
    reason = dropped.loc["weight.raw.skew", "reason"]
    assert reason.startswith("NaN in ") and "of 128 labelled examples" in reason and "first: run " in reason
    assert 0 < dropped.loc["weight.raw.skew", "examples_affected"] < 128
    assert np.isfinite(features.X).all()


def test_infinite_values_are_named_too(tmp_path: Path):
    dataset = synthetic_dataset(runs_per_rule=2, n_layers=3, n_checkpoints=4, observables=("act.abs.mean",
                                                                                           "act.raw.kurtosis"))
    obs = dataset.observables
    hit = (obs["statistic"] == "kurtosis") & (obs["run_id"] == "run0003_adam") & (obs["checkpoint"] == 2)
    obs.loc[hit.to_numpy(), "value"] = np.inf
    features = build_features(load(write(tmp_path / "d", dataset)).trajectories)
    assert features.layout.observables == ("act.abs.mean",)
    assert "+inf in 3 of 24 labelled examples" in features.dropped["reason"].iloc[0]
    reason = features.dropped["reason"].iloc[0]
    assert "run run0003_adam" in reason and "checkpoint 2" in reason


def test_unlabelled_runs_are_kept_apart_and_do_not_decide_what_is_dropped(tmp_path: Path):
    dataset = synthetic_dataset(runs_per_rule=3, n_layers=3, n_checkpoints=4, observables=("act.abs.mean",
                                                                                           "act.raw.var"))
    dataset.runs.loc[0, "learning_rule"] = None
    dataset.runs.loc[0, "source"] = "recording"
    recording = dataset.runs.loc[0, "run_id"]
    obs = dataset.observables
    broken = (obs["run_id"] == recording) & (obs["statistic"] == "var") & (obs["layer"] == "layer1")
    obs.loc[broken.to_numpy(), "value"] = np.nan
    features = build_features(load(write(tmp_path / "d", dataset)).trajectories)
    assert set(features.layout.observables) == {"act.abs.mean", "act.raw.var"}
    assert features.dropped.empty
    assert list(features.unusable["run_id"]) == [recording] and list(features.unusable["layer"]) == ["layer1"]
    assert len(features.unlabelled()) == 2 and set(features.unlabelled().groups) == {recording}
    assert recording not in set(features.labelled().groups) and len(features.labelled()) == 33
    assert features.describe()["unlabelled_runs"] == [recording]


def test_trajectory_averages(signal_data):
    full = build_features(signal_data.trajectories, measure="grad")
    averaged = build_features(signal_data.trajectories, measure="grad", average=True)
    assert averaged.layout.averaged and averaged.layout.n_features == len(full.layout.observables) + 3
    k = full.layout.n_checkpoints
    np.testing.assert_allclose(averaged.X[:, 0], full.X[:, :k].mean(axis=1))
    assert averaged.layout.feature_names[0] == f"{full.layout.observables[0]}@mean"


def test_features_for_a_model_layout_refuse_other_trajectories(signal_data, small_dir):
    layout = build_features(signal_data.trajectories, measure="act").layout
    np.testing.assert_array_equal(features_for_layout(signal_data.trajectories, layout).X,
                                  build_features(signal_data.trajectories, measure="act").X)
    other = load(small_dir).trajectories
    with pytest.raises(DecodeError, match="lacks statistic"):
        features_for_layout(other, layout)
    small_layout = build_features(other, measure="act").layout
    with pytest.raises(DecodeError, match="has 6 checkpoints per trajectory, the model was trained on 5"):
        features_for_layout(signal_data.trajectories, small_layout)


def test_sequences_for_the_conv1d():
    x = np.arange(2 * (3 * 4 + 2), dtype=float).reshape(2, 14)
    sequence = to_sequence(x, n_checkpoints=4, n_static=2)
    assert sequence.shape == (2, 4, 5)
    np.testing.assert_array_equal(sequence[0, :, 1], x[0, 4:8])  # statistic 1 along time
    np.testing.assert_array_equal(sequence[1, :, 3:], np.repeat(x[1, None, 12:], 4, axis=0))
    with pytest.raises(ValueError, match="do not split"):
        to_sequence(x, n_checkpoints=5, n_static=2)


def test_selection_by_run_factors_measurement_and_status(tmp_path: Path):
    dataset = synthetic_dataset(runs_per_rule=3, n_layers=3, n_checkpoints=4, observables=("act.abs.mean",),
                                measurements=("all", "units=0.5"))
    dataset.runs.loc[1, "status"] = "diverged"
    dataset.runs.loc[1, "status_detail"] = "loss became NaN"
    path = write(tmp_path / "d", dataset)
    everything = load(path)
    assert list(everything.excluded["run_id"]) == [dataset.runs.loc[1, "run_id"]]
    assert everything.n_runs == 11
    assert len(load(path, include_incomplete=True).excluded) == 0
    by_batch = load(path, where=parse_where(["batch_size=128,256"]))
    assert set(by_batch.trajectories.examples["batch_size"]) == {128, 256}
    unseeded = load(path, where={"dataset_seed": ["null"], "learning_rule": "fa"})
    assert unseeded.trajectories.examples["dataset_seed"].isna().all()
    assert set(unseeded.trajectories.examples["learning_rule"]) == {"fa"}
    one_setting = load(path, measurements=["units=0.5"])
    assert set(one_setting.trajectories.examples["measurement"]) == {"units=0.5"}
    assert len(one_setting.trajectories.examples) * 2 == len(everything.trajectories.examples)


@pytest.mark.parametrize(("where", "message"), [
    ({"colour": ["red"]}, "no column 'colour'"),
    ({"task": ["chess"]}, "choose among the values present: task_a"),
])
def test_bad_selections_say_what_exists(signal_dir, where, message):
    with pytest.raises(DecodeError, match=message):
        load(signal_dir, where=where)


def test_bad_inputs_are_explained(signal_dir, tmp_path: Path):
    with pytest.raises(DecodeError, match="does not exist"):
        load(tmp_path / "nowhere")
    with pytest.raises(DecodeError, match="COLUMN=VALUE"):
        parse_where(["task"])
    with pytest.raises(DecodeError, match="not in the data"):
        load(signal_dir, measurements=["units=3"])


def renamed(dataset: Dataset, prefix: str) -> Dataset:
    """The same runs under other ids, as a second sweep would have."""
    runs = dataset.runs.copy()
    observables = dataset.observables.copy()
    runs["run_id"] = prefix + runs["run_id"]
    observables["run_id"] = observables["run_id"].cat.rename_categories(lambda r: prefix + r)
    return type(dataset)(runs=runs, observables=observables)


def test_several_datasets_are_decoded_as_one(tmp_path: Path):
    first = synthetic_dataset(runs_per_rule=2, n_layers=3, n_checkpoints=4, observables=("act.abs.mean",), seed=1)
    second = renamed(synthetic_dataset(runs_per_rule=3, n_layers=3, n_checkpoints=4, observables=("act.abs.mean",),
                                       seed=2), "b_")
    both = load([write(tmp_path / "a", first), write(tmp_path / "b", second)])
    assert both.n_runs == 8 + 12 and len(both.sources) == 2
    assert len(build_features(both.trajectories).labelled()) == 20 * 3
    longer = renamed(synthetic_dataset(runs_per_rule=2, n_layers=3, n_checkpoints=6, observables=("act.abs.mean",)),
                     "c_")
    with pytest.raises(DecodeError, match="cannot line up the trajectories"):
        load([tmp_path / "a", write(tmp_path / "c", longer)])


def _with_final_metrics(tmp_path: Path, metrics: list[float | None]) -> Path:
    dataset = synthetic_dataset(runs_per_rule=2, n_layers=3, n_checkpoints=4, seed=3)
    runs = dataset.runs.copy()
    runs["final_metric"] = metrics
    runs.loc[len(runs) - 1, ["source", "learning_rule"]] = ["recording", None]
    return write(tmp_path / "data", Dataset(runs, dataset.observables))


def test_min_metric_leaves_out_simulated_runs_that_did_not_learn_and_keeps_recordings(tmp_path: Path):
    path = _with_final_metrics(tmp_path, [0.95, 0.12, 0.90, None, 0.97, 0.88, 0.91, None])
    loaded = load(path, min_metric=0.5)
    kept = set(loaded.trajectories.examples["run_id"].astype(str))
    assert len(kept) == 6 and loaded.excluded["reason"].tolist() == ["final metric 0.120 < 0.5", "missing final metric"]
    assert str(sorted(kept)[-1]).startswith("run0007")  # the recording, with no metric, stays
    assert len(set(load(path).trajectories.examples["run_id"])) == 8


def test_min_metric_without_metrics_or_above_every_run_is_refused_with_the_fix(tmp_path: Path, small_dir: Path):
    with pytest.raises(DecodeError, match="needs the final_metric column"):
        load(small_dir, min_metric=0.5)
    path = _with_final_metrics(tmp_path, [0.2] * 8)
    with pytest.raises(DecodeError, match=r"no simulated run reached the final metric 0.9 \(best: 0.2\)"):
        load(path, min_metric=0.9)
