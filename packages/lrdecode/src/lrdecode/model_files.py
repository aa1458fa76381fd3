"""Model files: skops (no pickle), and a loader that refuses any type it does not know.

A file holds a dict: format name and version, the decoder's metadata as JSON text, and the
fitted scikit-learn pipeline. Loading first lists the file's types without building anything
(`skops.io.get_untrusted_types`); beyond skops' own trusted set (scikit-learn, numpy,
builtins) only the explicit allowlist below is accepted, and anything else is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import skops.io as sio

from lrdecode.classifiers.conv1d import Conv1DClassifier
from lrdecode.classifiers.svm import LinearSVMClassifier
from lrdecode.decoder import DecoderModel
from lrdecode.errors import DecodeError
from lrdecode.features import FeatureLayout
from lrdecode.results import _jsonable, atomic_write

MODEL_FORMAT = "lrdecode-model"
MODEL_VERSION = "1.0.0"

# Our own estimators, and scikit-learn/numpy internals our pipelines contain that skops does
# not trust by default. Nothing else is loaded.
TRUSTED_TYPES: tuple[str, ...] = (
    f"{LinearSVMClassifier.__module__}.{LinearSVMClassifier.__qualname__}",
    f"{Conv1DClassifier.__module__}.{Conv1DClassifier.__qualname__}",
    "sklearn.tree._tree.Tree",  # the trees of a random forest
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",  # gradient boosting's trees
    "sklearn.calibration._CalibratedClassifier",  # one fold of CalibratedClassifierCV (matched models)
    "sklearn.calibration._SigmoidCalibration",  # its sigmoid (Platt) calibrator
)


def save_model(model: DecoderModel, path: str | Path) -> Path:
    """Write a decoder to a skops file, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"classifier": model.classifier, "layout": model.layout.to_dict(), "classes": list(model.classes),
                "params": model.params, "training": model.training}
    content = {"format": MODEL_FORMAT, "format_version": MODEL_VERSION,
               "metadata": json.dumps(_jsonable(metadata), allow_nan=False), "pipeline": model.pipeline}
    return atomic_write(path, lambda f: f.write(sio.dumps(content)))


def load_model(path: str | Path) -> DecoderModel:
    """Read a decoder written by `save_model`, refusing files with unknown types."""
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
    if major != MODEL_VERSION.split(".")[0]:
        raise DecodeError(f"{path} is model format {content.get('format_version')}, this lrdecode reads "
                          f"{MODEL_VERSION}", "refit the model with this lrdecode, or use the lrdecode that wrote it")
    metadata = json.loads(content["metadata"])
    return DecoderModel(pipeline=content["pipeline"], classifier=metadata["classifier"],
                        layout=FeatureLayout.from_dict(metadata["layout"]), classes=tuple(metadata["classes"]),
                        params=metadata["params"], training=metadata["training"])
