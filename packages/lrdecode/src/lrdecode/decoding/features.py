"""Features of the paper: one example per layer of a run (and measurement
setting); the trajectory of every chosen statistic, flattened statistic-major (the K values
of the first statistic, then the K of the second, ...), then the layer-position one-hot.

Non-finite or missing values in the labelled examples (all examples, when none is
labelled) cost either whole statistics or whole examples, whichever keeps more finite
trajectory values. With N examples, S chosen statistics and B the statistics non-finite
somewhere, for k = 0..|B| drop the k statistics of B that affect the most examples (ties
in canonical order), then the examples still non-finite in a kept statistic; keep the k
with the most values, (N - examples dropped) * (S - k), preferring the larger k on ties.
A k whose example drops would empty a rule or leave fewer than 2 rules is not allowed.
Both are recorded with the reason (``dropped``, ``dropped_examples``). Examples without a
learning rule (recordings, or runs whose rule is to be predicted) stay in the set, marked
unlabelled; those non-finite in a kept statistic are set aside in ``unusable``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import shared_schema as ss
from lrdecode.errors import DecodeError

MEASURE_CHOICES: tuple[str, ...] = ("weight", "act", "grad", "all")
POSITION_FEATURES: tuple[str, ...] = tuple(f"position={p}" for p in ss.LAYER_POSITIONS)
LABEL_COLUMN = "learning_rule"


@dataclass(frozen=True)
class FeatureLayout:
    """Which column of X is which: statistics x checkpoints (statistic-major), then static features."""

    observables: tuple[str, ...]
    n_checkpoints: int
    averaged: bool = False
    static: tuple[str, ...] = POSITION_FEATURES

    @property
    def n_trajectory_features(self) -> int:
        return len(self.observables) * self.n_checkpoints

    @property
    def n_features(self) -> int:
        return self.n_trajectory_features + len(self.static)

    @property
    def feature_names(self) -> tuple[str, ...]:
        if self.averaged:
            trajectory = [f"{o}@mean" for o in self.observables]
        else:
            trajectory = [f"{o}@{c}" for o in self.observables for c in range(self.n_checkpoints)]
        return (*trajectory, *self.static)

    @property
    def feature_groups(self) -> np.ndarray:
        """For every feature, the statistic (or static feature) it belongs to."""
        return np.array([*np.repeat(self.observables, self.n_checkpoints), *self.static], dtype=object)

    def columns_of(self, group: str) -> np.ndarray:
        """Columns of X holding one statistic's trajectory (or one static feature)."""
        return np.flatnonzero(self.feature_groups == group)

    def to_dict(self) -> dict[str, Any]:
        return {"observables": list(self.observables), "n_checkpoints": self.n_checkpoints,
                "averaged": self.averaged, "static": list(self.static)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureLayout:
        return cls(observables=tuple(data["observables"]), n_checkpoints=int(data["n_checkpoints"]),
                   averaged=bool(data["averaged"]), static=tuple(data["static"]))


@dataclass
class FeatureSet:
    """X, the rule of each example (None = unknown), the example metadata, and what was left out."""

    X: np.ndarray
    labels: np.ndarray
    examples: pd.DataFrame
    layout: FeatureLayout
    dropped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DROPPED_COLUMNS))
    unusable: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UNUSABLE_COLUMNS))
    dropped_examples: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DROPPED_EXAMPLE_COLUMNS))

    def __len__(self) -> int:
        return len(self.X)

    @property
    def groups(self) -> np.ndarray:
        """The run of each example: layers (and settings) of one run are correlated."""
        return self.examples["run_id"].astype(str).to_numpy()

    @property
    def is_labelled(self) -> np.ndarray:
        return np.array([label is not None for label in self.labels], dtype=bool)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(sorted({str(label) for label in self.labels if label is not None}))

    def subset(self, rows: np.ndarray) -> FeatureSet:
        rows = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=int)
        return FeatureSet(X=self.X[rows], labels=self.labels[rows],
                          examples=self.examples.iloc[rows].reset_index(drop=True), layout=self.layout,
                          dropped=self.dropped, unusable=self.unusable, dropped_examples=self.dropped_examples)

    def labelled(self) -> FeatureSet:
        """The examples with a known rule: what classifiers are trained and tested on."""
        return self.subset(self.is_labelled)

    def unlabelled(self) -> FeatureSet:
        """The examples whose rule is to be predicted (recordings, unknown runs)."""
        return self.subset(~self.is_labelled)

    def only_classes(self, classes: Sequence[str]) -> FeatureSet:
        return self.subset(np.isin(self.labels.astype(str), list(classes)) & self.is_labelled)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready account of the data the features came from."""
        labelled = self.is_labelled
        runs = self.examples["run_id"].astype(str)
        by_class = pd.Series(self.labels[labelled].astype(str)).value_counts().sort_index()
        return {
            "examples": len(self),
            "labelled_examples": int(labelled.sum()),
            "unlabelled_examples": int((~labelled).sum()),
            "runs": int(runs.nunique()),
            "unlabelled_runs": sorted(runs[~labelled].unique().tolist()),
            "examples_per_rule": {k: int(v) for k, v in by_class.items()},
            "statistics": list(self.layout.observables),
            "checkpoints": self.layout.n_checkpoints,
            "averaged": self.layout.averaged,
            "features": self.layout.n_features,
            "dropped_statistics": self.dropped.to_dict(orient="records"),
            "dropped_examples": self.dropped_examples.to_dict(orient="records"),
            "unusable_examples": self.unusable.to_dict(orient="records"),
        }


DROPPED_COLUMNS = ["statistic", "reason", "examples_affected"]
UNUSABLE_COLUMNS = ["run_id", "layer", "measurement", "reason"]
DROPPED_EXAMPLE_COLUMNS = ["run_id", "layer", "measurement", "statistics", "reason"]


def choose_observables(measure: str, statistics: Sequence[str] | None, present: Sequence[str]) -> list[str]:
    """Observables of a measure (weight/act/grad/all), optionally narrowed by a statistic list.

    A list item is an observable (``act.abs.median`` or ``actabs_median``) or a statistic
    (``median``: every function of it within the measure).
    """
    if measure not in MEASURE_CHOICES:
        raise DecodeError(f"unknown measure {measure!r}", f"use one of {', '.join(MEASURE_CHOICES)}")
    of_measure = [o for o in present if measure == "all" or ss.Observable.parse(o).measure == measure]
    if not of_measure:
        recorded = sorted({o.split(".")[0] for o in present})
        raise DecodeError(f"the data has no {measure} observables",
                          f"choose a measure that was recorded: {', '.join(recorded)}")
    if not statistics:
        return of_measure
    chosen: list[str] = []
    for item in statistics:
        if item in ss.STATISTICS:
            matched = [o for o in of_measure if o.endswith(f".{item}")]
        else:
            try:
                name = ss.Observable.parse(item).name
            except ValueError as error:
                raise DecodeError(str(error), "see `shared-schema names` for the 45 names") from None
            matched = [name] if name in of_measure else []
        if not matched:
            among = "the observables" if measure == "all" else f"the {measure} observables"
            raise DecodeError(f"statistic {item!r} is not among {among} of the data",
                              f"choose among: {', '.join(of_measure)}")
        chosen += [m for m in matched if m not in chosen]
    return [o for o in of_measure if o in chosen]  # canonical order


def _describe_nonfinite(values: np.ndarray, present: np.ndarray, examples: pd.DataFrame) -> tuple[str, int]:
    """Why one statistic cannot be used: counts of missing/NaN/inf and the first example hit."""
    bad_example = ~present | ~np.isfinite(values).all(axis=1)
    kinds = []
    if (~present).any():
        kinds.append(f"not measured in {int((~present).sum())}")
    measured = values[present]
    for label, hit in (("NaN", np.isnan(measured)), ("+inf", np.isposinf(measured)), ("-inf", np.isneginf(measured))):
        if hit.any():
            kinds.append(f"{label} in {int(hit.any(axis=1).sum())}")
    first = int(np.flatnonzero(bad_example)[0])
    row = examples.iloc[first]
    where = f"run {row['run_id']} layer {row['layer']}"
    finite_row = np.isfinite(values[first])
    if present[first] and not finite_row.all():
        where += f" at checkpoint {int(np.flatnonzero(~finite_row)[0])}"
    reason = f"{'; '.join(kinds)} of {len(values)} labelled examples (first: {where})"
    return reason, int(bad_example.sum())


def build_features(
    trajectories: ss.Trajectories,
    *,
    measure: str = "all",
    statistics: Sequence[str] | None = None,
    average: bool = False,
) -> FeatureSet:
    """Features of every example: trajectories (or their means over checkpoints) + position one-hot.

    Non-finite or missing values in the labelled examples (in all examples, when none is
    labelled) drop whole statistics or whole labelled examples, whichever keeps more finite
    trajectory values (`choose_drops`); ties drop statistics. Unlabelled examples non-finite
    in a kept statistic are set aside in ``unusable``, with the reason.
    """
    chosen = choose_observables(measure, statistics, list(trajectories.observables))
    traj = trajectories.select(observables=chosen)
    labels = _labels(traj.examples)
    labelled = np.array([label is not None for label in labels], dtype=bool)
    reference = labelled if labelled.any() else np.ones(len(labels), dtype=bool)
    bad = _nonfinite(traj.values[reference], traj.present[reference])
    drops = choose_drops(bad, labels[reference] if labelled.any() else None)
    if drops is None:
        raise DecodeError(f"every chosen statistic ({', '.join(traj.observables)}) is non-finite somewhere",
                          "choose other statistics or measures, or leave out the runs that diverged")
    dropped_statistics, dropped_reference_rows = drops
    reference_examples = traj.examples[reference].reset_index(drop=True)
    dropped = []
    for o in dropped_statistics:
        reason, count = _describe_nonfinite(traj.values[reference, :, o], traj.present[reference, o],
                                            reference_examples)
        dropped.append({"statistic": traj.observables[o], "reason": reason, "examples_affected": count})
    kept = [o for o in range(len(traj.observables)) if o not in dropped_statistics]
    layout = FeatureLayout(observables=tuple(traj.observables[o] for o in kept),
                           n_checkpoints=1 if average else traj.values.shape[1], averaged=average)
    X, finite = _assemble(traj.values[:, :, kept], traj.position_onehot, average)
    dropped_labelled = np.zeros(len(labels), dtype=bool)
    if labelled.any():
        dropped_labelled[np.flatnonzero(reference)[dropped_reference_rows]] = True
    usable = finite & ~dropped_labelled
    return FeatureSet(
        X=X[usable], labels=labels[usable], examples=traj.examples[usable].reset_index(drop=True),
        layout=layout, dropped=pd.DataFrame(dropped, columns=DROPPED_COLUMNS),
        unusable=_unusable_rows(traj.examples, ~usable & ~dropped_labelled),
        dropped_examples=_dropped_example_rows(traj, dropped_labelled, kept),
    )


def choose_drops(bad: np.ndarray, labels: np.ndarray | None) -> tuple[list[int], np.ndarray] | None:
    """Which statistics and examples to drop so that the most finite trajectory values remain.

    ``bad`` is (examples, statistics): missing or non-finite somewhere in the trajectory;
    ``labels`` the rule of each example (None: none is labelled). For k = 0..|B| (B: the
    statistics bad somewhere) drop the k statistics of B bad in the most examples (ties in
    canonical order), then the examples bad in a kept statistic; the k keeping the most
    values, (examples kept) * (statistics kept), wins, ties going to the larger k. A k whose
    example drops would empty a rule or leave fewer than 2 rules (without labels: every
    example) is not allowed. Returns the dropped statistics (canonical order) and a mask of
    the dropped examples, or None when every statistic would have to go.
    """
    n_examples, n_statistics = bad.shape
    affected = bad.sum(axis=0)
    by_harm = sorted(np.flatnonzero(affected).tolist(), key=lambda o: (-int(affected[o]), o))
    best: tuple[int, list[int], np.ndarray] | None = None
    for k in range(len(by_harm) + 1):
        dropped_statistics = sorted(by_harm[:k])
        kept = np.setdiff1d(np.arange(n_statistics), dropped_statistics)
        if kept.size == 0:
            continue
        dropped_examples = bad[:, kept].any(axis=1)
        if dropped_examples.any() and not _leaves_enough(dropped_examples, labels):
            continue
        kept_values = int((n_examples - dropped_examples.sum()) * kept.size)
        if best is None or kept_values >= best[0]:
            best = (kept_values, dropped_statistics, dropped_examples)
    return None if best is None else (best[1], best[2])


def _leaves_enough(dropped_examples: np.ndarray, labels: np.ndarray | None) -> bool:
    """Whether dropping these examples keeps every rule and at least 2 (without labels: any example)."""
    if labels is None:
        return not dropped_examples.all()
    rules = {str(label) for label in labels}
    remaining = {str(label) for label in labels[~dropped_examples]}
    return remaining == rules and len(remaining) >= 2


def _nonfinite(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """(examples, statistics): the trajectory is missing or has a NaN/inf at some checkpoint."""
    return ~present | ~np.isfinite(values).all(axis=1)


def _value_problem(values: np.ndarray, present: bool) -> str:
    """How one trajectory is unusable: not measured, or its first non-finite value and checkpoint."""
    if not present:
        return "is not measured"
    checkpoint = int(np.flatnonzero(~np.isfinite(values))[0])
    value = values[checkpoint]
    kind = "NaN" if np.isnan(value) else ("+inf" if value > 0 else "-inf")
    return f"is {kind} at checkpoint {checkpoint}"


def _dropped_example_rows(traj: ss.Trajectories, dropped: np.ndarray, kept: Sequence[int]) -> pd.DataFrame:
    """One row per dropped example, naming each kept statistic it is non-finite in."""
    records = []
    for row in np.flatnonzero(dropped):
        hit = [o for o in kept if not traj.present[row, o] or not np.isfinite(traj.values[row, :, o]).all()]
        problems = [f"{traj.observables[o]} {_value_problem(traj.values[row, :, o], traj.present[row, o])}"
                    for o in hit]
        example = traj.examples.iloc[row]
        records.append({"run_id": str(example["run_id"]), "layer": str(example["layer"]),
                        "measurement": str(example["measurement"]),
                        "statistics": ", ".join(traj.observables[o] for o in hit), "reason": "; ".join(problems)})
    return pd.DataFrame(records, columns=DROPPED_EXAMPLE_COLUMNS)


def dropped_examples_line(described: dict[str, Any], shown: int = 3) -> str | None:
    """One line on the examples dropped to keep statistics (from `FeatureSet.describe`), or None."""
    examples = described.get("dropped_examples") or []
    if not examples:
        return None
    spared = {name for example in examples for name in example["statistics"].split(", ")}
    where = [f"run {e['run_id']} layer {e['layer']}" + ("" if e["measurement"] == "all" else f" [{e['measurement']}]")
             + f" ({e['reason']})" for e in examples[:shown]]
    more = f", and {len(examples) - shown} more" if len(examples) > shown else ""
    return (f"dropped {len(examples)} example(s) with non-finite values rather than {len(spared)} statistic(s): "
            + ", ".join(where) + more)


def without_dropped_examples(trajectories: ss.Trajectories, features: FeatureSet) -> ss.Trajectories:
    """The trajectories less the examples ``features`` dropped for non-finite values.

    Analyses that cut or redraw the trajectory (thirds, subsamples) start from what the whole
    trajectory kept, so that every cut keeps the same examples and their splits still apply.
    """
    if features.dropped_examples.empty:
        return trajectories
    keys = trajectories.examples[["run_id", "layer", "measurement"]].astype(str).agg("|".join, axis=1)
    dropped = set(features.dropped_examples[["run_id", "layer", "measurement"]].astype(str).agg("|".join, axis=1))
    return trajectories.select(examples=~keys.isin(dropped).to_numpy())


def features_for_layout(trajectories: ss.Trajectories, layout: FeatureLayout) -> FeatureSet:
    """Features laid out exactly as a trained model expects (same statistics, same checkpoints)."""
    missing = [o for o in layout.observables if o not in trajectories.observables]
    if missing:
        raise DecodeError(f"the data lacks statistic(s) the model was trained on: {', '.join(missing)}",
                          "measure these statistics, or fit a model on the statistics you have")
    k = trajectories.values.shape[1]
    if not layout.averaged and k != layout.n_checkpoints:
        raise DecodeError(f"the data has {k} checkpoints per trajectory, the model was trained on "
                          f"{layout.n_checkpoints}",
                          "fit a model matched to this experiment (same number of checkpoints)")
    traj = trajectories.select(observables=list(layout.observables))
    X, usable = _assemble(traj.values, traj.position_onehot, layout.averaged)
    return FeatureSet(X=X[usable], labels=_labels(traj.examples)[usable],
                      examples=traj.examples[usable].reset_index(drop=True), layout=layout,
                      unusable=_unusable_rows(traj.examples, ~usable))


def to_sequence(X: np.ndarray, n_checkpoints: int, n_static: int) -> np.ndarray:
    """(n, S*K + static) statistic-major rows -> (n, K, S + static) sequences for a Conv1D.

    Static features (the layer position) are repeated at every checkpoint, as the original
    study fed its one-hot to the Conv1D.
    """
    n, p = X.shape
    n_statistics = (p - n_static) // n_checkpoints
    if n_statistics * n_checkpoints + n_static != p or n_statistics < 1:
        raise ValueError(f"{p} features do not split into statistics x {n_checkpoints} checkpoints "
                         f"+ {n_static} static features")
    sequence = X[:, : n_statistics * n_checkpoints].reshape(n, n_statistics, n_checkpoints).transpose(0, 2, 1)
    static = np.repeat(X[:, None, n_statistics * n_checkpoints:], n_checkpoints, axis=1)
    return np.concatenate([sequence, static], axis=2)


def _labels(examples: pd.DataFrame) -> np.ndarray:
    if LABEL_COLUMN not in examples:
        return np.full(len(examples), None, dtype=object)
    column = examples[LABEL_COLUMN]
    return np.array([None if pd.isna(v) else str(v) for v in column], dtype=object)


def _assemble(values: np.ndarray, onehot: np.ndarray, average: bool) -> tuple[np.ndarray, np.ndarray]:
    """Flatten statistic-major and append the one-hot; also say which rows are all finite."""
    n = len(values)
    trajectory = values.mean(axis=1) if average else values.transpose(0, 2, 1).reshape(n, -1)
    X = np.concatenate([trajectory, onehot], axis=1)
    return X, np.isfinite(X).all(axis=1)


def _unusable_rows(examples: pd.DataFrame, bad: np.ndarray) -> pd.DataFrame:
    rows = examples[bad]
    return pd.DataFrame({
        "run_id": rows["run_id"].astype(str).to_numpy(),
        "layer": rows["layer"].astype(str).to_numpy(),
        "measurement": rows["measurement"].astype(str).to_numpy(),
        "reason": "a statistic the classifier needs is missing or non-finite",
    }, columns=UNUSABLE_COLUMNS)
