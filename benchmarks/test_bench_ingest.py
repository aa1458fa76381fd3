"""Ingesting a recording: 500 units x 1,000 stimuli x 10 sessions (5 million responses).

`lrdecode.recordings.ingest` end to end: read and check the file, compute the 21 act
statistics of every session with the shared_schema reference, and write the dataset
(observables plus the 5 million unit responses in units.parquet, validated, atomically).
Measured for an .npz (3 rounds) and a .csv (one long row per response: 1 round, since the
text file alone is ~200 MB). No target was set; the medians are quoted in the lrdecode README.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lrdecode.recordings import ingest
from shared_schema import read_dataset

SESSIONS, STIMULI, UNITS = 10, 1_000, 500


@pytest.fixture(scope="module")
def responses() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.gamma(2.0, 1.0, size=(SESSIONS, STIMULI, UNITS))


@pytest.fixture(scope="module")
def npz_file(responses: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("npz") / "rec.npz"
    np.savez(path, responses=responses, session_times=np.arange(SESSIONS, dtype=float) * 2)
    return path


@pytest.fixture(scope="module")
def csv_file(responses: np.ndarray, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("csv") / "rec.csv"
    s, k, u = (a.reshape(-1) for a in np.indices(responses.shape))
    pd.DataFrame({"session": s, "time": s * 2.0, "stimulus": k, "unit": u, "response": responses.reshape(-1)}
                 ).to_csv(path, index=False)
    return path


def run_ingest(path: Path, out: Path) -> Path:
    return ingest([path], out, position="deep", overwrite=True)


@pytest.mark.parametrize(("kind", "rounds"), [("npz", 3), ("csv", 1)])
def test_ingest_of_500_units_x_1000_stimuli_x_10_sessions(benchmark, request, tmp_path: Path, kind: str,
                                                          rounds: int):
    path = request.getfixturevalue(f"{kind}_file")
    out = benchmark.pedantic(run_ingest, args=(path, tmp_path / "out"), rounds=rounds, iterations=1)
    data = read_dataset(out)
    assert data.trajectories().shape == (1, SESSIONS, 21) and len(data.units) == SESSIONS * STIMULI * UNITS
    median = benchmark.stats.stats.median
    megabytes = path.stat().st_size / 1e6
    benchmark.extra_info.update(file_megabytes=round(megabytes, 1), responses=SESSIONS * STIMULI * UNITS)
    print(f"\ningest {kind} ({megabytes:.0f} MB, {SESSIONS} sessions x {STIMULI} stimuli x {UNITS} units): "
          f"median {median:.1f} s over {rounds} round(s)")
