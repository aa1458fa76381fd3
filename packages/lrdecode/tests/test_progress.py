"""Progress: plain lines on a pipe every few seconds, with the note from inside a split; silence on request."""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pytest

from lrdecode import cli
from lrdecode.classifiers import CLASSIFIERS
from lrdecode.decoding.features import build_features
from lrdecode.decoding.model_selection import select_model
from lrdecode.progress import SILENT, PlainReporter, clock


class Recording:
    """A reporter that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def start(self, label: str, total: int) -> None:
        self.calls.append(("start", label))

    def advance(self, step: int = 1) -> None:
        self.calls.append(("advance", step))

    def note(self, text: str) -> None:
        self.calls.append(("note", text))

    def finish(self) -> None:
        self.calls.append(("finish", None))


def test_plain_progress_writes_a_line_every_interval_with_counts_time_left_and_the_latest_note():
    stream = io.StringIO()
    shown = PlainReporter(stream=stream, every=0.05)
    shown.start("all rf paper (splits)", 4)
    shown.advance()
    shown.note("rf growth: max_features=log2, 500 trees")
    time.sleep(0.3)
    shown.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 3
    assert re.fullmatch(r"progress: all rf paper \(splits\): 1/4, 0:00 elapsed, about 0:0\d left, "
                        r"rf growth: max_features=log2, 500 trees", lines[-1])
    written = len(lines)
    time.sleep(0.2)
    assert len(stream.getvalue().splitlines()) == written  # closed: no more lines


def test_plain_progress_drops_the_note_when_a_unit_finishes_and_says_when_a_task_ends():
    stream = io.StringIO()
    shown = PlainReporter(stream=stream, every=60)
    shown.start("fit", 1)
    shown.note("svm: C=50")
    shown.advance()
    shown.finish()
    shown.close()
    assert stream.getvalue() == "progress: fit: 1/1, 0:00 elapsed\n"


def test_plain_progress_is_quiet_between_a_finished_task_and_the_next():
    stream = io.StringIO()
    with PlainReporter(stream=stream, every=0.02) as shown:
        shown.start("fit", 1)
        shown.advance()
        shown.finish()
        time.sleep(0.15)
        assert stream.getvalue().splitlines() == ["progress: fit: 1/1, 0:00 elapsed"]
        shown.start("evaluate", 2)
        time.sleep(0.15)
    assert stream.getvalue().splitlines()[-1] == "progress: evaluate: 0/2, 0:00 elapsed"


def test_durations_read_as_minutes_or_hours():
    assert clock(5) == "0:05" and clock(125.4) == "2:05" and clock(3 * 3600 + 61) == "3:01:01"


def test_the_command_line_reports_silently_with_quiet_and_in_plain_lines_on_a_pipe():
    with cli.reporter(quiet=True) as shown:
        assert shown is SILENT
    with cli.reporter(quiet=False) as shown:  # pytest captures stderr: not a terminal
        assert isinstance(shown, PlainReporter)


@pytest.mark.parametrize("classifier", ["rf", "svm"])
def test_model_selection_notes_what_it_is_doing_inside_a_split(signal_data, classifier: str):
    features = build_features(signal_data.trajectories).labelled()
    recording = Recording()
    select_model(CLASSIFIERS[classifier], features.X, features.labels.astype(str), layout=features.layout,
                 random_state=0, reporter=recording)
    notes = [text for kind, text in recording.calls if kind == "note"]
    assert len(notes) >= 3 and all(str(text).startswith(classifier) for text in notes)


def test_given_hyperparameters_are_fitted_without_a_search(signal_data):
    features = build_features(signal_data.trajectories).labelled()
    selection = select_model(CLASSIFIERS["rf"], features.X, features.labels.astype(str), layout=features.layout,
                             params={"max_features": "sqrt", "n_estimators": 20})
    forest = selection.model[-1]
    assert forest.n_estimators == len(forest.estimators_) == 20 and forest.max_features == "sqrt"
    assert selection.method == "given hyperparameters" and np.isnan(selection.score) and selection.trace.empty
