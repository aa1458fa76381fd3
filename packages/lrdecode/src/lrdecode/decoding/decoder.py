"""A trained decoder: the fitted pipeline plus everything needed to use it on new data (which
statistics, how many checkpoints, which rules), and predictions per example and per run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from lrdecode.classifiers import get_classifier
from lrdecode.decoding.features import FeatureLayout, FeatureSet, build_features, features_for_layout
from lrdecode.decoding.model_selection import limited_threads, select_model
from lrdecode.errors import DecodeError
from lrdecode.io.data import LoadedData
from lrdecode.progress import SILENT, Reporter


@dataclass
class DecoderModel:
    """A fitted pipeline and the feature layout and rules it was trained on."""

    pipeline: Pipeline
    classifier: str
    layout: FeatureLayout
    classes: tuple[str, ...]
    params: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)
    novelty: Any = None  # lrdecode.novelty.NoveltyScorer of a matched decoder: flags data unlike its training set

    def features(self, data: LoadedData) -> FeatureSet:
        """The features of new data, laid out as this model expects."""
        return features_for_layout(data.trajectories, self.layout)

    def predict_examples(self, features: FeatureSet) -> pd.DataFrame:
        """One row per example: run, layer, setting, true rule (if known), predicted rule, probabilities."""
        with limited_threads(1):
            proba = self.pipeline.predict_proba(features.X)
        classes = [str(c) for c in self.pipeline.classes_]
        frame = pd.DataFrame({
            "run_id": features.examples["run_id"].astype(str).to_numpy(),
            "layer": features.examples["layer"].astype(str).to_numpy(),
            "measurement": features.examples["measurement"].astype(str).to_numpy(),
            "learning_rule": features.labels,
            "predicted": np.asarray(classes)[proba.argmax(axis=1)],
        })
        for j, rule in enumerate(classes):
            frame[f"p_{rule}"] = proba[:, j]
        return frame

    def predict_runs(self, features: FeatureSet) -> pd.DataFrame:
        """One row per run: probabilities averaged over its examples (layers, settings), and the argmax."""
        examples = self.predict_examples(features)
        columns = [c for c in examples.columns if c.startswith("p_")]
        runs = examples.groupby("run_id", sort=True).agg(
            learning_rule=("learning_rule", "first"), examples=("layer", "size"),
            **{c: (c, "mean") for c in columns}).reset_index()
        runs.insert(3, "predicted", [c.removeprefix("p_") for c in runs[columns].idxmax(axis=1)])
        return runs


def fit_decoder(
    data: LoadedData,
    *,
    classifier: str = "rf",
    measure: str = "all",
    statistics: Sequence[str] | None = None,
    average: bool = False,
    exhaustive: bool = False,
    seed: int = 0,
    n_jobs: int = 1,
    reporter: Reporter = SILENT,
) -> DecoderModel:
    """Choose hyperparameters (run-grouped inner CV) and fit on every labelled example."""
    spec = get_classifier(classifier)
    features = build_features(data.trajectories, measure=measure, statistics=statistics, average=average)
    labelled = features.labelled()
    if len(labelled) == 0:
        raise DecodeError("no example has a learning rule to learn from",
                          "fit on a dataset with labelled runs (learning_rule set in runs.parquet)")
    if len(labelled.classes) < 2:
        raise DecodeError(f"the data holds one learning rule only ({labelled.classes[0]})",
                          "fit on runs of two rules or more")
    reporter.start(f"choosing and fitting the {spec.label}", 1)
    selection = select_model(spec, labelled.X, labelled.labels.astype(str), groups=labelled.groups,
                             layout=labelled.layout, exhaustive=exhaustive, random_state=seed, n_jobs=n_jobs,
                             reporter=reporter)
    reporter.advance()
    reporter.finish()
    return DecoderModel(
        pipeline=selection.model, classifier=classifier, layout=labelled.layout,
        classes=tuple(str(c) for c in selection.model.classes_), params=selection.params,
        training={
            "sources": list(data.sources),
            "measure": measure,
            "data": labelled.describe(),
            "selection_method": selection.method,
            "validation_accuracy": selection.score,
            "validation_note": "inner-CV (run-grouped) accuracy of the chosen hyperparameters; "
                               "optimistic, since it chose them",
            "selection_seconds": selection.seconds,
            "seed": seed,
        },
    )
