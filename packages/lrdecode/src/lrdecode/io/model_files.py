"""Model files: skops (no pickle), and a loader that refuses any type it does not know.

A file holds a dict: format name and version, and ``parts``: one decoder per part (one part
for `lrdecode fit`; one per group of areas for `fit --match` on a recording whose areas
differ), each its metadata as JSON text, its fitted scikit-learn pipeline and, for matched
decoders, the novelty scorer that flags data unlike the simulations (lrdecode.novelty).
Version 1 files (one decoder, no parts) are still read. Loading first lists the file's types without building anything
(`skops.io.get_untrusted_types`); beyond skops' own trusted set (scikit-learn, numpy,
builtins) only the explicit allowlist below is accepted, and anything else is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import skops.io as sio

from lrdecode.classifiers.conv1d import Conv1DClassifier
from lrdecode.classifiers.svm import LinearSVMClassifier
from lrdecode.decoding.decoder import DecoderModel
from lrdecode.decoding.features import FeatureLayout
from lrdecode.errors import DecodeError
from lrdecode.io.results import _jsonable, atomic_write
from lrdecode.novelty import NoveltyScorer

MODEL_FORMAT = "lrdecode-model"
MODEL_VERSION = "2.0.0"
READABLE_MAJORS = ("1", "2")

# Our own estimators, and scikit-learn/numpy internals our pipelines contain that skops does
# not trust by default. Nothing else is loaded.
TRUSTED_TYPES: tuple[str, ...] = (
    f"{LinearSVMClassifier.__module__}.{LinearSVMClassifier.__qualname__}",
    f"{Conv1DClassifier.__module__}.{Conv1DClassifier.__qualname__}",
    f"{NoveltyScorer.__module__}.{NoveltyScorer.__qualname__}",
    "sklearn.tree._tree.Tree",  # the trees of a random forest
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",  # gradient boosting's trees
    "sklearn.calibration._CalibratedClassifier",  # one fold of CalibratedClassifierCV (matched models)
    "sklearn.calibration._SigmoidCalibration",  # its sigmoid (Platt) calibrator
)


def _part(model: DecoderModel) -> dict[str, Any]:
    metadata = {"classifier": model.classifier, "layout": model.layout.to_dict(), "classes": list(model.classes),
                "params": model.params, "training": model.training}
    return {"metadata": json.dumps(_jsonable(metadata), allow_nan=False), "pipeline": model.pipeline,
            "novelty": model.novelty}


def save_model(model: DecoderModel | Sequence[DecoderModel], path: str | Path) -> Path:
    """Write one decoder, or several (one per group of areas), to a skops file, atomically."""
    models = [model] if isinstance(model, DecoderModel) else list(model)
    if not models:
        raise DecodeError("no decoder to save", "fit a decoder first")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {"format": MODEL_FORMAT, "format_version": MODEL_VERSION, "parts": [_part(m) for m in models]}
    return atomic_write(path, lambda f: f.write(sio.dumps(content)))


def load_model(path: str | Path) -> DecoderModel:
    """Read a file holding one decoder (see `load_models` for files of several)."""
    models = load_models(path)
    if len(models) > 1:
        raise DecodeError(f"{path} holds {len(models)} decoders (one per group of areas)",
                          "read it with load_models, or give it to `lrdecode predict`, which uses each")
    return models[0]


def load_models(path: str | Path) -> list[DecoderModel]:
    """Read the decoders written by `save_model`, refusing files with unknown types."""
    path = Path(path)
    if not path.is_file():
        raise DecodeError(f"model file {path} does not exist", "give a file written by `lrdecode fit`")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as error:  # skops raises zipfile/json/key errors for foreign files
        raise DecodeError(f"{path} is not a readable model file ({type(error).__name__}: {error})",
                          "give a file written by `lrdecode fit`") from None
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise DecodeError(f"{path} contains types lrdecode does not trust: {', '.join(unknown)}",
                          "load only model files written by `lrdecode fit`; nothing from this file was run")
    content: Any = sio.load(path, trusted=list(untrusted))
    if not isinstance(content, dict) or content.get("format") != MODEL_FORMAT:
        raise DecodeError(f"{path} is a skops file but not an lrdecode model", "give a file written by `lrdecode fit`")
    major = str(content.get("format_version", "")).split(".")[0]
    if major not in READABLE_MAJORS:
        raise DecodeError(f"{path} is model format {content.get('format_version')}, this lrdecode reads "
                          f"{' and '.join(f'{m}.x' for m in READABLE_MAJORS)}",
                          "refit the model with this lrdecode, or use the lrdecode that wrote it")
    parts = content["parts"] if major != "1" else [content]
    models = []
    for part in parts:
        metadata = json.loads(part["metadata"])
        models.append(DecoderModel(pipeline=part["pipeline"], classifier=metadata["classifier"],
                                   layout=FeatureLayout.from_dict(metadata["layout"]),
                                   classes=tuple(metadata["classes"]), params=metadata["params"],
                                   training=metadata["training"], novelty=part.get("novelty")))
    return models
