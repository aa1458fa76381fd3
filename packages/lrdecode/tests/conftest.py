"""Synthetic datasets with a known rule signal, written with shared_schema, shared by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from lrdecode.io.data import LoadedData, load
from shared_schema import Dataset, write_dataset
from shared_schema.synthetic import synthetic_dataset

INFORMATIVE = ("act.abs.median", "weight.raw.norm", "grad.abs.id", "act.raw.q3")


@pytest.fixture(autouse=True, scope="session")
def single_threaded_libraries() -> Iterator[None]:
    """One BLAS/OpenMP thread: on a shared 2-core machine, free threads make small fits ~7x slower."""
    with threadpool_limits(limits=1):
        yield


def write(path: Path, dataset: Dataset) -> Path:
    return write_dataset(path, dataset.runs, dataset.observables)


@pytest.fixture(scope="session")
def signal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 rules x 8 runs x 4 layers x 6 checkpoints; the rule shows in four statistics; one NaN statistic."""
    dataset = synthetic_dataset(runs_per_rule=8, n_layers=4, n_checkpoints=6, informative=INFORMATIVE, signal=3.0,
                                nonfinite=("weight.raw.skew",), seed=1)
    return write(tmp_path_factory.mktemp("signal") / "data", dataset)


@pytest.fixture(scope="session")
def signal_data(signal_dir: Path) -> LoadedData:
    return load(signal_dir)


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A quick dataset for the CLI and model files: 4 rules x 6 runs x 3 layers, 8 statistics, 5 checkpoints;
    two of the runs have no known rule (recordings, to predict)."""
    dataset = synthetic_dataset(runs_per_rule=6, n_layers=3, n_checkpoints=5,
                                observables=("act.abs.median", "act.raw.mean", "act.sq.norm", "weight.raw.norm",
                                             "weight.abs.mean", "weight.raw.skew", "grad.raw.id", "grad.abs.id"),
                                informative=("act.abs.median", "weight.raw.norm", "grad.abs.id"), signal=3.0,
                                nonfinite=("weight.raw.skew",), seed=2)
    runs = dataset.runs
    unknown = runs.index[runs["run_id"].isin(["run0000_sgdm", "run0006_adam"])]
    runs.loc[unknown, "learning_rule"] = None
    runs.loc[unknown, "source"] = "recording"
    return write(tmp_path_factory.mktemp("small") / "data", dataset)


def fraction_correct(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))
