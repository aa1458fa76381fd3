"""Model files: fit -> save -> load -> predict gives the same probabilities; unknown types are refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio

from lrdecode.classifiers import CLASSIFIERS
from lrdecode.decoding.decoder import DecoderModel, fit_decoder
from lrdecode.decoding.features import build_features
from lrdecode.decoding.model_selection import make_pipeline
from lrdecode.errors import DecodeError
from lrdecode.io.data import LoadedData, load
from lrdecode.io.model_files import load_model, load_models, save_model


@pytest.fixture(scope="module")
def small_data(small_dir: Path) -> LoadedData:
    return load(small_dir)


CHEAP = {"rf": {"n_estimators": 20}, "svm": {"n_components": 5}, "logreg": {}, "hgb": {"max_iter": 20},
         "conv1d": {"epochs": 5, "pooling": "avg"}}


def fitted(data: LoadedData, classifier: str) -> DecoderModel:
    """A decoder fitted directly with cheap hyperparameters (model selection is tested elsewhere)."""
    features = build_features(data.trajectories).labelled()
    pipeline = make_pipeline(CLASSIFIERS[classifier], features.layout, 3, 1, **CHEAP[classifier])
    pipeline.fit(features.X, features.labels.astype(str))
    return DecoderModel(pipeline=pipeline, classifier=classifier, layout=features.layout,
                        classes=features.classes, params=CHEAP[classifier], training={"data": features.describe()})


@pytest.mark.parametrize("classifier", list(CHEAP))
def test_round_trip_predicts_the_same(small_data, tmp_path: Path, classifier):
    if classifier == "conv1d":
        pytest.importorskip("keras")
    model = fitted(small_data, classifier)
    path = save_model(model, tmp_path / "model.skops")
    loaded = load_model(path)
    features = loaded.features(small_data)
    np.testing.assert_array_equal(loaded.pipeline.predict_proba(features.X), model.pipeline.predict_proba(features.X))
    assert loaded.layout == model.layout and loaded.classes == model.classes and loaded.params == model.params
    runs = loaded.predict_runs(features)
    recordings = runs[runs["learning_rule"].isna()]
    assert sorted(recordings["run_id"]) == ["run0000_sgdm", "run0006_adam"]
    probabilities = runs[[f"p_{c}" for c in loaded.classes]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert loaded.training["data"]["unlabelled_examples"] == 0  # trained on labelled runs only
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize("classifier", ["rf", "logreg"])
def test_a_fitted_decoder_names_the_rule_of_runs(small_data, classifier):
    model = fit_decoder(small_data, classifier=classifier)
    assert model.training["selection_method"] and 0.5 < model.training["validation_accuracy"] <= 1.0
    runs = model.predict_runs(model.features(small_data))
    known = runs[runs["learning_rule"].notna()]
    assert (known["predicted"] == known["learning_rule"]).mean() > 0.9
    assert set(runs.loc[runs["learning_rule"].isna(), "predicted"]) <= set(model.classes)


class Intruder:
    """A type no allowlist knows: loading must not build it."""

    built = False

    def __setstate__(self, state: dict) -> None:
        Intruder.built = True
        self.__dict__.update(state)


def test_the_loader_refuses_unknown_types_without_building_them(small_data, tmp_path: Path):
    path = save_model(fitted(small_data, "logreg"), tmp_path / "model.skops")
    content = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    content["parts"][0]["pipeline"] = Intruder()
    evil = tmp_path / "evil.skops"
    sio.dump(content, evil)
    with pytest.raises(DecodeError, match=r"contains types lrdecode does not trust: .*Intruder"):
        load_model(evil)
    assert not Intruder.built


def test_the_loader_refuses_what_is_not_a_model(tmp_path: Path):
    with pytest.raises(DecodeError, match="does not exist"):
        load_model(tmp_path / "none.skops")
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(DecodeError, match="not a readable model file"):
        load_model(junk)
    other = tmp_path / "other.skops"
    sio.dump({"format": "something-else", "pipeline": None}, other)
    with pytest.raises(DecodeError, match="not an lrdecode model"):
        load_model(other)


def test_a_file_of_several_decoders_keeps_each_and_a_single_read_refuses_it(small_data, tmp_path: Path):
    first, second = fitted(small_data, "logreg"), fitted(small_data, "rf")
    path = save_model([first, second], tmp_path / "parts.skops")
    loaded = load_models(path)
    assert [m.classifier for m in loaded] == ["logreg", "rf"]
    features = first.features(small_data)
    np.testing.assert_array_equal(loaded[1].pipeline.predict_proba(features.X),
                                  second.pipeline.predict_proba(features.X))
    with pytest.raises(DecodeError, match="holds 2 decoders"):
        load_model(path)


def test_a_version_1_file_of_one_decoder_still_loads(small_data, tmp_path: Path):
    model = fitted(small_data, "logreg")
    metadata = {"classifier": model.classifier, "layout": model.layout.to_dict(), "classes": list(model.classes),
                "params": model.params, "training": {}}
    old = tmp_path / "old.skops"
    sio.dump({"format": "lrdecode-model", "format_version": "1.0.0", "metadata": json.dumps(metadata),
              "pipeline": model.pipeline}, old)
    loaded = load_model(old)
    assert loaded.classes == model.classes and loaded.novelty is None
