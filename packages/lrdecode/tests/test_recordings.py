"""Real recordings in: NWB, NumPy and CSV round trips and every bad-recording case."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lrdecode.recordings import RecordingError, RecordingWarning, ingest, read_recording
from lrdecode.recordings.examples import example_responses, write_example
from shared_schema import read_dataset
from shared_schema.statistics import act_statistics

FORMATS = {"npz": "rec.npz", "csv": "rec.csv", "nwb": "nwb"}
needs_pynwb = pytest.mark.skipif(importlib.util.find_spec("pynwb") is None,
                                 reason="NWB needs pynwb (lrdecode[nwb])")


def written(tmp_path: Path, kind: str, **options) -> list[Path]:
    return write_example(tmp_path / FORMATS[kind], kind, **options)


@pytest.mark.parametrize("kind", ["npz", "csv", pytest.param("nwb", marks=needs_pynwb)])
def test_ingest_round_trips_responses_and_reference_statistics(tmp_path: Path, kind: str):
    files = written(tmp_path, kind, sessions=4, stimuli=12, units=9)
    data = read_dataset(ingest(files, tmp_path / "out", position="deep", run_id="mouse-1", task="go-nogo"))
    expected = example_responses(4, 12, 9)

    run = data.runs.iloc[0]
    assert run["source"] == "recording" and pd.isna(run["learning_rule"]) and run["task"] == "go-nogo"
    trajectories = data.trajectories()
    assert trajectories.shape == (1, 4, 21)
    assert trajectories.examples.loc[0, "layer"] == "V1"
    assert trajectories.examples.loc[0, "layer_position"] == "deep"
    assert trajectories.examples.loc[0, "n_units_act"] == 9
    np.testing.assert_allclose(trajectories.epochs[0], [0.0, 2.0, 4.0, 6.0])
    column = trajectories.observables.index("act.abs.median")
    for session in range(4):
        reference = act_statistics(expected[session])["act.abs.median"]
        assert trajectories.values[0, session, column] == pytest.approx(reference, rel=1e-12)
    units = data.units.sort_values(["checkpoint", "stimulus", "unit"])
    np.testing.assert_allclose(units["value"].to_numpy().reshape(4, 12, 9), expected)


@needs_pynwb
def test_the_three_formats_give_the_same_observables(tmp_path: Path):
    tables = []
    for kind in FORMATS:
        data = read_dataset(ingest(written(tmp_path / kind, kind), tmp_path / f"out-{kind}", position="early",
                                   run_id="m"))
        tables.append(data.observables.sort_values(["checkpoint", "function", "statistic"])["value"].to_numpy())
    np.testing.assert_allclose(tables[0], tables[1], rtol=1e-12)
    np.testing.assert_allclose(tables[0], tables[2], rtol=1e-12)


def test_the_format_is_inferred_from_the_extension_or_given(tmp_path: Path):
    path = written(tmp_path, "npz")[0]
    renamed = path.with_suffix(".dat")
    path.rename(renamed)
    with pytest.raises(RecordingError, match=r"cannot tell the format of rec\.dat.*pass --format"):
        read_recording([renamed])
    assert read_recording([renamed], format="npz").n_sessions == 5


def test_units_with_missing_responses_are_dropped_with_a_warning(tmp_path: Path):
    responses = example_responses(3, 6, 5)
    responses[1, 2, 3] = np.nan
    np.savez(tmp_path / "r.npz", responses=responses, session_times=[0.0, 1.0, 2.0])
    with pytest.warns(RecordingWarning, match=r"dropped 1 of 5 unit\(s\) with missing \(NaN\) responses"):
        recording = read_recording([tmp_path / "r.npz"])
    assert recording.responses.shape == (3, 6, 4) and 3 not in recording.unit_ids
    with pytest.raises(RecordingError, match=r"1 unit\(s\) have missing \(NaN\) responses: 3"):
        read_recording([tmp_path / "r.npz"], drop_nan_units=False)
    np.savez(tmp_path / "all.npz", responses=np.full((3, 6, 5), np.nan), session_times=[0.0, 1.0, 2.0])
    with pytest.raises(RecordingError, match="every unit has a missing"):
        read_recording([tmp_path / "all.npz"])


def test_units_that_differ_between_sessions_are_refused_or_intersected(tmp_path: Path):
    path = written(tmp_path, "csv", sessions=3, stimuli=4, units=5)[0]
    table = pd.read_csv(path)
    table = table[~((table["session"] == 1) & (table["unit"] == 102))]
    table.to_csv(path, index=False)
    with pytest.raises(RecordingError, match=r"session 1 lacks unit\(s\) 102.*--common-units"):
        read_recording([path])
    assert read_recording([path], common_units=True).responses.shape == (3, 4, 4)


@needs_pynwb
def test_nwb_sessions_with_other_units_are_refused(tmp_path: Path):
    files = written(tmp_path, "nwb", sessions=3, stimuli=4, units=5)
    from lrdecode.recordings.nwb import write_example_nwb

    write_example_nwb(tmp_path / "other", example_responses(1, 4, 5), [9.0], unit_ids=[7, 8, 9, 10, 11])
    with pytest.raises(RecordingError, match=r"its units differ from those of session00\.nwb"):
        read_recording([*files, tmp_path / "other" / "session00.nwb"])


def test_one_session_is_not_a_trajectory(tmp_path: Path):
    np.savez(tmp_path / "one.npz", responses=example_responses(1, 4, 3), session_times=[0.0])
    with pytest.raises(RecordingError, match="only 1 session; a learning trajectory needs at least 2 sessions"):
        read_recording([tmp_path / "one.npz"])


def test_negative_or_unordered_session_times_are_refused(tmp_path: Path):
    np.savez(tmp_path / "neg.npz", responses=example_responses(3, 4, 3), session_times=[-1.0, 0.0, 1.0])
    with pytest.raises(RecordingError, match="negative session time -1"):
        read_recording([tmp_path / "neg.npz"])
    np.savez(tmp_path / "order.npz", responses=example_responses(3, 4, 3), session_times=[0.0, 2.0, 1.0])
    with pytest.raises(RecordingError, match=r"session 2 \(time 1\) does not come after session 1"):
        read_recording([tmp_path / "order.npz"])


def test_mismatched_shapes_are_refused_naming_the_arrays(tmp_path: Path):
    np.savez(tmp_path / "a.npz", responses=example_responses(3, 4, 3), session_times=[0.0, 1.0])
    with pytest.raises(RecordingError, match="session_times has 2 entries but the responses have 3 sessions"):
        read_recording([tmp_path / "a.npz"])
    np.savez(tmp_path / "b.npz", responses=np.zeros((3, 4)), session_times=[0.0, 1.0, 2.0])
    with pytest.raises(RecordingError, match=r"must be 3-D \(sessions x stimuli x units\), got shape \(3, 4\)"):
        read_recording([tmp_path / "b.npz"])
    np.savez(tmp_path / "c.npz", responses=example_responses(3, 4, 3), session_times=[0.0, 1.0, 2.0],
             unit_ids=[1, 2])
    with pytest.raises(RecordingError, match="unit_ids has 2 entries but the responses have 3 units"):
        read_recording([tmp_path / "c.npz"])
    np.savez(tmp_path / "d.npz", rates=np.zeros((3, 4, 3)))
    with pytest.raises(RecordingError, match="missing array 'responses'"):
        read_recording([tmp_path / "d.npz"])


def test_an_npz_holding_python_objects_is_refused_without_unpickling(tmp_path: Path):
    np.savez(tmp_path / "obj.npz", responses=np.array([{"a": 1}], dtype=object), session_times=[0.0])
    with pytest.raises(RecordingError, match="cannot be read without pickle"):
        read_recording([tmp_path / "obj.npz"])


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.drop(columns=["response"]), "missing column(s) response"),
    (lambda t: pd.concat([t, t.iloc[[3]]]), "appears twice"),
    (lambda t: t.assign(response=t["response"].astype(object).where(t.index != 5, "high")),
     "row 7: response 'high' is not a number"),
    (lambda t: t[~((t["session"] == 2) & (t["stimulus"] == 1))], "the stimuli differ between sessions"),
])
def test_bad_csv_recordings_get_clear_errors(tmp_path: Path, change, message):
    path = written(tmp_path, "csv", sessions=3, stimuli=4, units=5)[0]
    change(pd.read_csv(path)).to_csv(path, index=False)
    with pytest.raises(RecordingError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_recording([path])


def test_every_area_needs_a_valid_depth_position(tmp_path: Path):
    path = written(tmp_path, "npz")[0]
    with pytest.raises(RecordingError, match="position 'top' of area 'V1' is not one of early, middle, deep"):
        ingest([path], tmp_path / "out", position="top")
    with pytest.raises(RecordingError, match=r"no depth position for area\(s\) V1"):
        ingest([path], tmp_path / "out", position={"V4": "deep"})
    assert not (tmp_path / "out").exists()


def test_a_csv_without_time_counts_sessions_not_days(tmp_path: Path):
    path = written(tmp_path, "csv", sessions=3, stimuli=4, units=5)[0]
    table = pd.read_csv(path).drop(columns=["time"])
    table.assign(session=table["session"] + 1).to_csv(path, index=False)
    recording = read_recording([path])
    assert recording.time_unit == "sessions"
    np.testing.assert_array_equal(recording.session_times, [1.0, 2.0, 3.0])
    assert read_recording([written(tmp_path / "timed", "csv", sessions=3)[0]]).time_unit == "days"


def test_a_csv_without_time_needs_numbered_sessions(tmp_path: Path):
    path = written(tmp_path, "csv", sessions=3, stimuli=4, units=5)[0]
    table = pd.read_csv(path).drop(columns=["time"])
    table.assign(session="s" + table["session"].astype(str)).to_csv(path, index=False)
    with pytest.raises(RecordingError, match=r"sessions s0, s1, s2 are not numbers.*add a time column"):
        read_recording([path])


def test_npz_and_nwb_session_times_are_days(tmp_path: Path):
    assert read_recording(written(tmp_path, "npz")).time_unit == "days"
    if importlib.util.find_spec("pynwb") is not None:
        recording = read_recording(written(tmp_path, "nwb", days=[0.0, 1.5, 4.0], sessions=3))
        assert recording.time_unit == "days"
        np.testing.assert_allclose(recording.session_times, [0.0, 1.5, 4.0])
