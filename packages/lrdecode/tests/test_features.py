"""Reading and features: statistic-major trajectories + layer position, selections, non-finite drops,
unlabelled runs kept apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lrdecode.decoding.features import (
    POSITION_FEATURES,
    build_features,
    choose_drops,
    choose_observables,
    dropped_examples_line,
    features_for_layout,
    to_sequence,
)
from lrdecode.errors import DecodeError
from lrdecode.io.data import load, parse_where
from shared_schema import Dataset, Observable, observable_names
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
    runs = ["run0003_adam", "run0004_fa", "run0005_fa", "run0006_ia"]
    _set(dataset, "act.raw.kurtosis", np.inf, runs=runs, checkpoint=2)
    features = build_features(load(write(tmp_path / "d", dataset)).trajectories)
    assert features.layout.observables == ("act.abs.mean",)
    assert "+inf in 12 of 24 labelled examples" in features.dropped["reason"].iloc[0]
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
    assert features.dropped.empty and features.dropped_examples.empty
    assert list(features.unusable["run_id"]) == [recording] and list(features.unusable["layer"]) == ["layer1"]
    assert len(features.unlabelled()) == 2 and set(features.unlabelled().groups) == {recording}
    assert recording not in set(features.labelled().groups) and len(features.labelled()) == 33
    assert features.describe()["unlabelled_runs"] == [recording]


SKEW_AND_KURTOSIS = ("act.abs.mean", "act.raw.skew", "act.raw.kurtosis")


def _skew_and_kurtosis() -> Dataset:
    """4 rules x 2 runs x 3 layers = 24 labelled examples of 3 statistics, 4 checkpoints."""
    return synthetic_dataset(runs_per_rule=2, n_layers=3, n_checkpoints=4, observables=SKEW_AND_KURTOSIS)


def _set(dataset: Dataset, observable: str, value: float, *, runs: list[str] | None = None,
         layers: list[str] | None = None, checkpoint: int = 0) -> None:
    """Set one statistic at one checkpoint, in the given runs and layers (default: all)."""
    o = Observable.parse(observable)
    obs = dataset.observables
    hit = ((obs["measure"] == o.measure) & (obs["function"] == o.function) & (obs["statistic"] == o.statistic)
           & (obs["checkpoint"] == checkpoint))
    if runs is not None:
        hit &= obs["run_id"].isin(runs)
    if layers is not None:
        hit &= obs["layer"].isin(layers)
    assert hit.any()
    obs.loc[hit.to_numpy(), "value"] = value


def test_a_few_non_finite_examples_are_dropped_instead_of_their_statistics(tmp_path: Path):
    dataset = _skew_and_kurtosis()
    _set(dataset, "act.raw.skew", np.nan, runs=["run0001_sgdm", "run0005_fa"], layers=["layer0"], checkpoint=1)
    _set(dataset, "act.raw.kurtosis", np.inf, runs=["run0001_sgdm"], layers=["layer0"], checkpoint=2)
    _set(dataset, "act.raw.kurtosis", np.nan, runs=["run0005_fa"], layers=["layer0"], checkpoint=3)
    features = build_features(load(write(tmp_path / "d", dataset)).trajectories)
    assert set(features.layout.observables) == set(SKEW_AND_KURTOSIS) and features.dropped.empty
    assert len(features) == 22 and np.isfinite(features.X).all()
    dropped = features.dropped_examples
    assert dropped[["run_id", "layer", "measurement"]].values.tolist() == [
        ["run0001_sgdm", "layer0", "all"], ["run0005_fa", "layer0", "all"]]
    assert dropped["statistics"].tolist() == ["act.raw.skew, act.raw.kurtosis"] * 2
    assert dropped["reason"].tolist() == [
        "act.raw.skew is NaN at checkpoint 1; act.raw.kurtosis is +inf at checkpoint 2",
        "act.raw.skew is NaN at checkpoint 1; act.raw.kurtosis is NaN at checkpoint 3"]
    kept = set(zip(features.examples["run_id"].astype(str), features.examples["layer"].astype(str), strict=True))
    assert ("run0001_sgdm", "layer0") not in kept and ("run0001_sgdm", "layer1") in kept
    assert features.unusable.empty


def test_a_statistic_non_finite_in_most_examples_is_still_dropped_whole(tmp_path: Path):
    dataset = _skew_and_kurtosis()
    _set(dataset, "act.raw.skew", np.nan, layers=["layer0", "layer1"])
    _set(dataset, "act.raw.kurtosis", np.nan, runs=["run0002_adam"], layers=["layer2"], checkpoint=3)
    features = build_features(load(write(tmp_path / "d", dataset)).trajectories)
    assert set(features.layout.observables) == {"act.abs.mean", "act.raw.kurtosis"}
    assert features.dropped["statistic"].tolist() == ["act.raw.skew"]
    assert features.dropped["reason"].iloc[0].startswith("NaN in 16 of 24 labelled examples")
    assert features.dropped["examples_affected"].tolist() == [16]
    assert features.dropped_examples[["run_id", "layer", "reason"]].values.tolist() == [
        ["run0002_adam", "layer2", "act.raw.kurtosis is NaN at checkpoint 3"]]
    assert len(features) == 23


@pytest.mark.parametrize(("n_runs_hit", "statistic_dropped"), [(7, False), (8, True)])
def test_equal_value_counts_favour_dropping_the_statistic(tmp_path: Path, n_runs_hit: int, statistic_dropped: bool):
    dataset = _skew_and_kurtosis()
    runs = dataset.runs["run_id"].tolist()[:n_runs_hit]
    _set(dataset, "act.raw.skew", np.nan, runs=runs, layers=["layer0"])
    features = build_features(load(write(tmp_path / "d", dataset)).trajectories)
    # 24 examples x 3 statistics: dropping 8 examples keeps 16 x 3 = 48 values, as many as dropping the statistic
    assert ("act.raw.skew" in features.layout.observables) is not statistic_dropped
    assert len(features) == (24 if statistic_dropped else 24 - n_runs_hit)
    assert len(features.dropped_examples) == (0 if statistic_dropped else n_runs_hit)


def test_examples_are_never_dropped_if_that_would_empty_a_rule(tmp_path: Path):
    dataset = _skew_and_kurtosis()
    _set(dataset, "act.raw.skew", np.nan, runs=["run0002_adam", "run0003_adam"])
    features = build_features(load(write(tmp_path / "d", dataset)).trajectories)
    assert features.dropped["statistic"].tolist() == ["act.raw.skew"]
    assert features.dropped_examples.empty and len(features) == 24
    assert features.classes == ("adam", "fa", "ia", "sgdm")


def test_choosing_drops_keeps_the_most_values_within_the_rules():
    labels = np.array(["a"] * 6 + ["b"] * 6, dtype=object)
    bad = np.zeros((12, 4), dtype=bool)
    bad[:8, 1] = True
    bad[11, 2] = True
    statistics, examples = choose_drops(bad, labels)
    assert statistics == [1] and np.flatnonzero(examples).tolist() == [11]  # 11 x 3 beats 3 x 4 and 12 x 2

    two = np.zeros((12, 3), dtype=bool)
    two[0, 2] = two[6, 1] = True
    statistics, examples = choose_drops(two, labels)
    assert statistics == [] and np.flatnonzero(examples).tolist() == [0, 6]  # 10 x 3 beats 11 x 2 and 12 x 1

    two[1:3, 2] = two[7:9, 1] = True
    statistics, examples = choose_drops(two, labels)
    # 6 x 3 = 9 x 2: the tie drops a statistic, the first in canonical order of the equally harmful two
    assert statistics == [1] and np.flatnonzero(examples).tolist() == [0, 1, 2]

    one_rule = np.array(["a"] * 12, dtype=object)
    lone = np.zeros((12, 3), dtype=bool)
    lone[0, 2] = True
    statistics, examples = choose_drops(lone, one_rule)
    assert statistics == [2] and not examples.any()
    assert choose_drops(np.ones((4, 2), dtype=bool), labels[[0, 1, 6, 7]]) is None


def test_describe_reports_both_dropped_statistics_and_dropped_examples(tmp_path: Path):
    dataset = _skew_and_kurtosis()
    _set(dataset, "act.raw.skew", np.nan, layers=["layer0", "layer1"])
    _set(dataset, "act.raw.kurtosis", np.nan, runs=["run0002_adam"], layers=["layer2"], checkpoint=3)
    described = build_features(load(write(tmp_path / "d", dataset)).trajectories).labelled().describe()
    assert [d["statistic"] for d in described["dropped_statistics"]] == ["act.raw.skew"]
    assert described["dropped_examples"] == [{"run_id": "run0002_adam", "layer": "layer2", "measurement": "all",
                                              "statistics": "act.raw.kurtosis",
                                              "reason": "act.raw.kurtosis is NaN at checkpoint 3"}]
    assert described["labelled_examples"] == 23
    assert dropped_examples_line(described) == (
        "dropped 1 example(s) with non-finite values rather than 1 statistic(s): "
        "run run0002_adam layer layer2 (act.raw.kurtosis is NaN at checkpoint 3)")
    assert dropped_examples_line({**described, "dropped_examples": []}) is None


def test_without_labels_a_few_non_finite_examples_are_set_aside_as_unusable(tmp_path: Path):
    dataset = _skew_and_kurtosis()
    dataset.runs["learning_rule"] = None
    dataset.runs["source"] = "recording"
    _set(dataset, "act.raw.skew", np.nan, runs=["run0001_sgdm"], layers=["layer0"])
    features = build_features(load(write(tmp_path / "d", dataset)).trajectories)
    assert set(features.layout.observables) == set(SKEW_AND_KURTOSIS)
    assert features.dropped.empty and features.dropped_examples.empty and len(features) == 23
    assert features.unusable[["run_id", "layer"]].values.tolist() == [["run0001_sgdm", "layer0"]]


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
