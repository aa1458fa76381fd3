from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared_schema import OBSERVABLE_NAMES, to_legacy, write_dataset
from shared_schema.synthetic import synthetic_dataset


@pytest.fixture
def small_dataset():
    """Eight runs of four rules, three layers, five checkpoints, two measurement settings."""
    return synthetic_dataset(runs_per_rule=2, n_layers=3, n_checkpoints=5,
                             measurements=("all", "units=0.5"))


@pytest.fixture
def dataset_dir(tmp_path: Path, small_dataset) -> Path:
    return write_dataset(tmp_path / "data", small_dataset.runs, small_dataset.observables)


ORIGINAL_RULES = ["adam", "sgdm", "information", "feedback"]


def make_original_layout(n_runs_per_rule: int = 2, layers=("conv1", "conv2", "conv3", "fc4"), k: int = 21):
    """A file in the original study's layout: one example per layer of each network."""
    rng = np.random.default_rng(0)
    rows = []
    for rule in ORIGINAL_RULES:
        for r in range(n_runs_per_rule):
            for depth, layer in enumerate(layers):
                rows.append((rule, "cifar10", "knetlrn", 128 * 2**r, "None" if r % 2 else "0", "0",
                             layer, f"gpu{r}", float(depth) * 1.5))
    meta = np.rec.fromrecords(rows, names="learning_rule,dataset,model,batch_size,model_seed,"
                                          "dataset_seed,layer,host,layer_scale")
    obs_keys = np.array(sorted(to_legacy(n) for n in OBSERVABLE_NAMES))
    x = rng.normal(size=(len(rows), k, len(obs_keys)))
    x_cat = np.zeros((len(rows), k, 3))
    positions = [0, 1, 2, 2]
    for i in range(len(rows)):
        x_cat[i, :, positions[i % len(layers)]] = 1
    return {"X": x, "Y": meta["learning_rule"].copy(), "meta": meta, "obs_keys": obs_keys, "X_cat": x_cat}


@pytest.fixture
def original_layout():
    """A factory of files in the original study's layout."""
    return make_original_layout
