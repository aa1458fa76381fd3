from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared_schema import (
    FormatError,
    concat_datasets,
    encode_learning_curve,
    parse_learning_curve,
    read_dataset,
    validate_dataset,
    write_dataset,
)
from shared_schema.manifest import check_manifest, json_schema, new_manifest
from shared_schema.synthetic import synthetic_dataset

# ---------------------------------------------------------------- round trips


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """A long table with plain dtypes and a fixed row order, for comparisons."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype(str)
        elif out[column].dtype.kind in "iu":
            out[column] = out[column].astype(np.int64)
    key = ["run_id", "layer", "measurement", "measure", "function", "statistic", "checkpoint"]
    return out.sort_values(key).reset_index(drop=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    runs_per_rule=st.integers(1, 3),
    n_layers=st.integers(1, 5),
    n_checkpoints=st.integers(1, 7),
    n_rules=st.integers(1, 4),
    observables=st.lists(st.sampled_from(["weight.raw.mean", "act.sq.q3", "grad.abs.id", "act.raw.skew",
                                          "weight.abs.kurtosis"]), min_size=1, unique=True),
    measurements=st.sampled_from([("all",), ("all", "units=0.5"), ("noise=1",)]),
    nonfinite=st.booleans(),
    seed=st.integers(0, 10_000),
)
def test_write_read_pivot_unpivot_is_the_identity(tmp_path_factory, runs_per_rule, n_layers, n_checkpoints,
                                                  n_rules, observables, measurements, nonfinite, seed):
    dataset = synthetic_dataset(
        rules=("sgdm", "adam", "fa", "ia")[:n_rules], runs_per_rule=runs_per_rule, n_layers=n_layers,
        n_checkpoints=n_checkpoints, observables=observables, measurements=measurements,
        nonfinite=observables[:1] if nonfinite else (), seed=seed,
    )
    path = write_dataset(tmp_path_factory.mktemp("rt") / "d", dataset.runs, dataset.observables)
    read = read_dataset(path)
    trajectories = read.trajectories()
    assert trajectories.shape == (len(dataset.runs) * n_layers * len(measurements), n_checkpoints,
                                  len(observables))
    pd.testing.assert_frame_equal(canonical(trajectories.to_long()), canonical(dataset.observables))
    pd.testing.assert_frame_equal(canonical(read.observables), canonical(dataset.observables))


def test_pivot_aligns_metadata_values_and_position_onehot(small_dataset):
    trajectories = small_dataset.trajectories()
    examples = trajectories.examples
    row = 7
    ex = examples.iloc[row]
    obs = small_dataset.observables
    series = obs[(obs["run_id"] == ex["run_id"]) & (obs["layer"] == ex["layer"])
                 & (obs["measurement"] == ex["measurement"]) & (obs["measure"] == "act")
                 & (obs["function"] == "abs") & (obs["statistic"] == "median")].sort_values("checkpoint")
    column = trajectories.observables.index("act.abs.median")
    np.testing.assert_array_equal(trajectories.values[row, :, column], series["value"].to_numpy())
    runs = small_dataset.runs.set_index("run_id")
    assert ex["learning_rule"] == runs.loc[ex["run_id"], "learning_rule"]
    onehot = trajectories.position_onehot
    assert onehot.shape == (len(examples), 3) and (onehot.sum(axis=1) == 1).all()
    assert onehot[row].argmax() == ["early", "middle", "deep"].index(ex["layer_position"])
    assert ex["n_units_act"] == (500 if ex["measurement"] == "all" else 250) * (ex["layer_index"] + 1)


def test_pivot_refuses_ragged_trajectories_unless_asked_to_pad(small_dataset):
    obs = small_dataset.observables
    first = obs["run_id"].cat.categories[0]
    short = obs[~((obs["run_id"] == first) & (obs["checkpoint"] > 2))]
    dataset = small_dataset.restrict_to_runs(small_dataset.runs)
    dataset.observables = short.reset_index(drop=True)
    with pytest.raises(ValueError, match=r"different lengths.*ragged='pad'"):
        dataset.trajectories()
    padded = dataset.trajectories(ragged="pad")
    rows = (padded.examples["run_id"] == first).to_numpy()
    assert np.isnan(padded.values[rows, 3:]).all() and (padded.lengths[rows] == 3).all()
    pd.testing.assert_frame_equal(canonical(padded.to_long()), canonical(dataset.observables))


def test_select_keeps_matching_runs_and_their_rows(small_dataset):
    subset = small_dataset.select(learning_rule=["fa", "ia"])
    assert set(subset.runs["learning_rule"]) == {"fa", "ia"}
    assert set(subset.observables["run_id"].astype(str)) == set(subset.runs["run_id"])
    with pytest.raises(KeyError, match="no column 'rule'"):
        small_dataset.select(rule="fa")


def test_concatenating_datasets_refuses_a_run_present_twice(small_dataset):
    merged = concat_datasets([small_dataset.select(learning_rule="fa"), small_dataset.select(learning_rule="ia")])
    assert len(merged.runs) == 4 and isinstance(merged.observables["run_id"].dtype, pd.CategoricalDtype)
    with pytest.raises(FormatError, match="in more than one dataset"):
        concat_datasets([small_dataset, small_dataset.select(learning_rule="fa")])


# ---------------------------------------------------------------- writing


def test_write_creates_manifest_runs_and_observables(dataset_dir: Path):
    assert sorted(p.name for p in dataset_dir.iterdir()) == ["manifest.json", "observables.parquet",
                                                             "runs.parquet"]
    manifest = json.loads((dataset_dir / "manifest.json").read_text())
    assert manifest["format"] == "lr-observables" and manifest["format_version"] == "1.1.0"
    assert manifest["producer"]["name"] == "shared_schema"


def test_an_invalid_write_leaves_no_dataset_and_no_temporary_files(tmp_path: Path, small_dataset):
    obs = small_dataset.observables.copy()
    obs.loc[3, "value"] = np.nan
    obs = pd.concat([obs, obs.iloc[[5]]], ignore_index=True)  # a duplicate row
    with pytest.raises(FormatError, match="duplicate row"):
        write_dataset(tmp_path / "bad", small_dataset.runs, obs)
    assert list(tmp_path.iterdir()) == []


def test_writing_over_an_existing_dataset_needs_overwrite_and_replaces_it(tmp_path: Path, small_dataset):
    path = write_dataset(tmp_path / "d", small_dataset.runs, small_dataset.observables)
    with pytest.raises(FileExistsError, match="already exists"):
        write_dataset(path, small_dataset.runs, small_dataset.observables)
    subset = small_dataset.select(learning_rule="adam")
    write_dataset(path, subset.runs, subset.observables, overwrite=True)
    assert set(read_dataset(path).runs["learning_rule"]) == {"adam"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def test_a_failed_overwrite_keeps_the_old_dataset(tmp_path: Path, small_dataset):
    path = write_dataset(tmp_path / "d", small_dataset.runs, small_dataset.observables)
    runs = small_dataset.runs.copy()
    runs.loc[0, "status"] = "exploded"
    with pytest.raises(FormatError, match="unknown status 'exploded'"):
        write_dataset(path, runs, small_dataset.observables, overwrite=True)
    assert len(read_dataset(path).runs) == len(small_dataset.runs)


def test_a_value_column_of_text_is_refused_naming_the_column(tmp_path: Path, small_dataset):
    obs = small_dataset.observables.copy()
    obs["value"] = "high"
    with pytest.raises(FormatError, match=r"observables\.parquet, column 'value': cannot be stored as float"):
        write_dataset(tmp_path / "d", small_dataset.runs, obs)


# ---------------------------------------------------------------- bad input on disk


def rewrite(path: Path, file: str, change) -> None:
    table = pq.read_table(path / file)
    pq.write_table(change(table), path / file)


def set_column(table: pa.Table, name: str, values) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, pa.array(values))


def first_error(path: Path) -> str:
    report = validate_dataset(path)
    assert not report.ok
    with pytest.raises(FormatError) as raised:
        read_dataset(path)
    assert str(raised.value).startswith(str(report.errors[0]))
    return str(report.errors[0])


def test_a_newer_major_version_is_refused_naming_both_versions(dataset_dir: Path):
    manifest = json.loads((dataset_dir / "manifest.json").read_text())
    manifest["format_version"] = "2.1.0"
    (dataset_dir / "manifest.json").write_text(json.dumps(manifest))
    message = first_error(dataset_dir)
    assert "format_version 2.1.0" in message and "1.1.0" in message and "upgrade shared_schema" in message


def test_a_newer_minor_version_is_read_with_a_warning(dataset_dir: Path):
    manifest = json.loads((dataset_dir / "manifest.json").read_text())
    manifest["format_version"] = "1.4.0"
    manifest["checksum"] = "abc"
    (dataset_dir / "manifest.json").write_text(json.dumps(manifest))
    report = validate_dataset(dataset_dir)
    assert report.ok
    assert [p.column for p in report.warnings] == ["format_version", "checksum"]
    with pytest.warns(UserWarning) as caught:
        read_dataset(dataset_dir)
    assert ["newer than this reader" in str(w.message) for w in caught] == [True, False]


def test_a_missing_manifest_is_refused_saying_what_a_dataset_holds(dataset_dir: Path):
    (dataset_dir / "manifest.json").unlink()
    message = first_error(dataset_dir)
    assert message.startswith("manifest.json: missing from") and "must hold manifest.json" in message


def test_a_path_that_is_not_a_directory_is_refused(tmp_path: Path):
    assert "does not exist" in first_error(tmp_path / "nowhere")


def test_a_missing_required_column_is_named(dataset_dir: Path):
    rewrite(dataset_dir, "observables.parquet", lambda t: t.drop_columns(["epoch"]))
    assert first_error(dataset_dir) == (
        "observables.parquet, column 'epoch': required column 'epoch' is missing. Fix: add a float "
        "column 'epoch' (Training progress at the checkpoint (sessions: time).)")


def test_an_unknown_column_only_warns(dataset_dir: Path):
    rewrite(dataset_dir, "observables.parquet", lambda t: t.append_column("extra", pa.array([1] * len(t))))
    report = validate_dataset(dataset_dir)
    assert report.ok and "unknown column 'extra'" in str(report.warnings[0])


def test_a_wrong_dtype_is_named_with_the_expected_kind(dataset_dir: Path):
    rewrite(dataset_dir, "observables.parquet",
            lambda t: set_column(t, "checkpoint", [str(v) for v in t.column("checkpoint").to_pylist()]))
    message = first_error(dataset_dir)
    assert "column 'checkpoint': has type string (string), expected integer" in message


def test_a_null_in_a_required_column_names_the_first_row(dataset_dir: Path):
    def blank(table: pa.Table) -> pa.Table:
        values = table.column("layer_index").to_pylist()
        values[11] = None
        return set_column(table, "layer_index", values)

    rewrite(dataset_dir, "observables.parquet", blank)
    assert "column 'layer_index', row 11: has 1 missing value(s)" in first_error(dataset_dir)


def test_duplicate_rows_are_refused_naming_the_row_and_key(dataset_dir: Path):
    rewrite(dataset_dir, "observables.parquet", lambda t: pa.concat_tables([t, t.slice(40, 1)]))
    message = first_error(dataset_dir)
    assert "duplicate row" in message and "appears 2 times" in message and "keep one row per" in message


def test_a_trajectory_with_a_missing_checkpoint_is_refused(dataset_dir: Path):
    def drop_one(table: pa.Table) -> pa.Table:
        frame = table.to_pandas()
        gone = (frame["checkpoint"] == 2) & (frame["statistic"] == "median") & (frame["layer"] == "layer1")
        return pa.Table.from_pandas(frame[~gone], preserve_index=False)

    rewrite(dataset_dir, "observables.parquet", drop_one)
    message = first_error(dataset_dir)
    assert "misses checkpoint 2 (it has checkpoints up to 4)" in message
    assert "write every checkpoint 0..K-1" in message


@pytest.mark.parametrize(("column", "bad", "expected"), [
    ("measure", "spikes", "unknown measure 'spikes'. Fix: use one of weight, act, grad"),
    ("function", "log", "unknown function 'log'. Fix: use one of raw, abs, sq"),
    ("statistic", "mode", "unknown statistic 'mode'"),
    ("layer_position", "top", "unknown layer_position 'top'"),
])
def test_unknown_measure_function_statistic_position_are_refused(dataset_dir: Path, column, bad, expected):
    def spoil(table: pa.Table) -> pa.Table:
        values = [str(v) for v in table.column(column).to_pylist()]
        values[7] = bad
        return set_column(table, column, values)

    rewrite(dataset_dir, "observables.parquet", spoil)
    message = first_error(dataset_dir)
    assert f"column '{column}', row 7" in message and expected in message


def test_a_statistic_undefined_for_its_measure_is_refused(dataset_dir: Path):
    def spoil(table: pa.Table) -> pa.Table:
        frame = table.to_pandas()
        row = frame.index[(frame["measure"] == "grad")][0]
        frame["statistic"] = frame["statistic"].astype(str)
        frame.loc[row, "statistic"] = "median"
        return pa.Table.from_pandas(frame, preserve_index=False)

    rewrite(dataset_dir, "observables.parquet", spoil)
    assert "statistic 'median' is not defined for measure 'grad'" in first_error(dataset_dir)


def test_a_truncated_parquet_file_is_refused_without_a_raw_traceback(dataset_dir: Path):
    data = (dataset_dir / "observables.parquet").read_bytes()
    (dataset_dir / "observables.parquet").write_bytes(data[: len(data) // 2])
    message = first_error(dataset_dir)
    assert message.startswith("observables.parquet: is not a readable Parquet file")
    assert "truncated or not Parquet" in message


def test_a_csv_named_parquet_is_refused(dataset_dir: Path):
    (dataset_dir / "runs.parquet").write_text("run_id,source\na,simulation\n")
    assert first_error(dataset_dir).startswith("runs.parquet: is not a readable Parquet file")


@pytest.mark.parametrize("bad_id", ["runs/../../etc", "a/b", "..", "with space"])
def test_run_ids_that_are_not_safe_file_names_are_refused(tmp_path: Path, small_dataset, bad_id):
    runs = small_dataset.runs.copy()
    obs = small_dataset.observables.copy()
    old = runs.loc[0, "run_id"]
    runs.loc[0, "run_id"] = bad_id
    obs["run_id"] = obs["run_id"].cat.rename_categories({old: bad_id})
    with pytest.raises(FormatError) as raised:
        write_dataset(tmp_path / "d", runs, obs)
    assert f"runs.parquet, column 'run_id', row 0: run_id '{bad_id}' may only use letters" in str(raised.value)


def test_observables_of_a_run_absent_from_runs_are_refused(dataset_dir: Path):
    rewrite(dataset_dir, "runs.parquet", lambda t: t.slice(1))
    message = first_error(dataset_dir)
    assert "absent from runs.parquet" in message and "run0000_sgdm" in message


def test_a_run_listed_twice_is_refused(dataset_dir: Path):
    rewrite(dataset_dir, "runs.parquet", lambda t: pa.concat_tables([t, t.slice(2, 1)]))
    assert "appears more than once" in first_error(dataset_dir)


def test_hyperparameters_must_be_a_json_object(dataset_dir: Path):
    rewrite(dataset_dir, "runs.parquet", lambda t: set_column(t, "hyperparameters", ["lr=0.1"] * len(t)))
    assert "hyperparameters 'lr=0.1' is not a JSON object" in first_error(dataset_dir)


def test_a_learning_curve_round_trips_and_reads_back_in_order(tmp_path: Path, small_dataset):
    runs = small_dataset.runs.copy()
    history = [{"epoch": 1, "metric": 0.5, "loss": 1.5, "step": 10}, {"epoch": 2, "metric": 0.75, "loss": float("nan")}]
    runs["learning_curve"] = [encode_learning_curve(history)] + [None] * (len(runs) - 1)
    write_dataset(tmp_path / "d", runs, small_dataset.observables)
    back = read_dataset(tmp_path / "d").runs
    assert parse_learning_curve(back["learning_curve"].iloc[0]) == [
        {"epoch": 1.0, "metric": 0.5, "loss": 1.5}, {"epoch": 2.0, "metric": 0.75, "loss": None}]
    assert parse_learning_curve(back["learning_curve"].iloc[1]) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("0.5", "is not a JSON array"),
    ('[{"metric": 0.5}]', "entry 0"),
    ('[{"epoch": 1, "metric": "high"}]', "'metric' must be a finite number or null"),
    ('[{"epoch": 2}, {"epoch": NaN}, {"epoch": 1}]', "'epoch' must be a finite number"),
    ('[{"epoch": -1, "metric": 0.5}]', "include a negative one"),
    ('[{"epoch": 2, "metric": 0.5}, {"epoch": 1, "metric": 0.6}]', "decrease"),
])
def test_a_malformed_learning_curve_is_refused_naming_run_and_row(dataset_dir: Path, text, expected):
    def add(table: pa.Table) -> pa.Table:
        return table.append_column("learning_curve", pa.array([None, text] + [None] * (len(table) - 2)))

    rewrite(dataset_dir, "runs.parquet", add)
    message = first_error(dataset_dir)
    assert "column 'learning_curve', row 1" in message and "learning_curve of run" in message and expected in message


def test_a_format_1_0_dataset_without_learning_curves_is_still_read(dataset_dir: Path):
    manifest = json.loads((dataset_dir / "manifest.json").read_text())
    manifest["format_version"] = "1.0.0"
    (dataset_dir / "manifest.json").write_text(json.dumps(manifest))
    report = validate_dataset(dataset_dir)
    assert report.ok and not report.warnings
    assert "learning_curve" not in read_dataset(dataset_dir).runs.columns


def test_layers_with_two_positions_or_checkpoints_with_two_epochs_are_refused(tmp_path: Path, small_dataset):
    obs = small_dataset.observables.copy()
    obs["epoch"] = obs["epoch"].to_numpy() + (obs.index == 30)
    with pytest.raises(FormatError, match="has more than one epoch"):
        write_dataset(tmp_path / "d", small_dataset.runs, obs)
    obs = small_dataset.observables.copy()
    obs["layer_index"] = obs["layer_index"].to_numpy() + (obs.index == 30)
    with pytest.raises(FormatError, match="has more than one layer_index"):
        write_dataset(tmp_path / "d", small_dataset.runs, obs)


def test_unit_tables_must_hold_the_same_units_at_every_checkpoint(tmp_path: Path, small_dataset):
    rows = [
        {"run_id": "run0000_sgdm", "layer": "layer0", "checkpoint": c, "epoch": float(c), "measure": "act",
         "stimulus": s, "unit": u, "n_units_total": 500, "value": 0.5}
        for c in range(2) for s in range(3) for u in ((1, 4) if c == 0 else (1, 5))
    ]
    units = pd.DataFrame(rows)
    with pytest.raises(FormatError, match="units or stimuli differ between checkpoints"):
        write_dataset(tmp_path / "d", small_dataset.runs, small_dataset.observables, units=units)
    units.loc[units["unit"] == 5, "unit"] = 4
    path = write_dataset(tmp_path / "d", small_dataset.runs, small_dataset.observables, units=units)
    assert len(read_dataset(path).units) == 12


# ---------------------------------------------------------------- the JSON Schema


def manifest_cases() -> list[tuple[dict, bool]]:
    good = new_manifest("demo", ("lrsim", "0.1.0"))
    cases = [(good, True), ({**good, "format_version": "1.2.3"}, True),
             ({**good, "created": "2026-01-01T00:00:00+02:00"}, True)]
    for key, value in (("format", "other"), ("format_version", "1.0"), ("format_version", "2.0.0"),
                       ("producer", "lrsim"), ("producer", {"name": "x"}), ("created", "yesterday"),
                       ("created", "2026-01-01"), ("description", 3)):
        cases.append(({**good, key: value}, False))
    for key in ("format", "format_version", "producer", "created"):
        cases.append(({k: v for k, v in good.items() if k != key}, False))
    return cases


@pytest.mark.parametrize(("manifest", "valid"), manifest_cases())
def test_the_shipped_json_schema_agrees_with_the_python_validator(manifest, valid):
    schema = json_schema()
    schema_valid = jsonschema.Draft202012Validator(schema).is_valid(manifest)
    python_valid = not [p for p in check_manifest(manifest) if p.severity == "error"]
    assert schema_valid == python_valid == valid
