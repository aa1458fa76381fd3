"""Scores of a decoder on one test set, and their summary over splits.

- accuracy: fraction correct.
- balanced accuracy: the mean over rules of the recall (fraction of a rule's examples
  named correctly), as scikit-learn defines it; equal to accuracy on balanced test sets.
- d' (sensitivity index), per rule one-vs-rest: z(hit rate) - z(false-alarm rate), where
  hits are the rule's examples named as that rule and false alarms the other examples named
  as it; rates are corrected as (count + 0.5) / (total + 1) (the log-linear rule) so that a
  perfect decoder has a finite d'. The reported d' is the mean over rules.
  (The original study clipped z at +-5 instead.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import norm


def confusion(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Counts: [i, j] = examples of rule i named rule j."""
    index = {c: i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        matrix[index[str(t)], index[str(p)]] += 1
    return matrix


def accuracy(matrix: np.ndarray) -> float:
    return float(np.trace(matrix) / matrix.sum())


def balanced_accuracy(matrix: np.ndarray) -> float:
    """Mean recall over the rules present in the test set."""
    totals = matrix.sum(axis=1)
    present = totals > 0
    return float(np.mean(np.diag(matrix)[present] / totals[present]))


def dprime_per_class(matrix: np.ndarray) -> np.ndarray:
    """One-vs-rest d' of each rule (NaN for a rule absent from the test set)."""
    total = matrix.sum()
    positives = matrix.sum(axis=1)
    hits = np.diag(matrix)
    false_alarms = matrix.sum(axis=0) - hits
    negatives = total - positives
    hit_rate = (hits + 0.5) / (positives + 1.0)
    false_alarm_rate = (false_alarms + 0.5) / (negatives + 1.0)
    d = norm.ppf(hit_rate) - norm.ppf(false_alarm_rate)
    return np.where(positives > 0, d, np.nan)


def dprime(matrix: np.ndarray) -> float:
    """Mean one-vs-rest d' over the rules present in the test set."""
    return float(np.nanmean(dprime_per_class(matrix)))


def scores(matrix: np.ndarray) -> dict[str, float]:
    """All scores of one confusion matrix."""
    return {"accuracy": accuracy(matrix), "balanced_accuracy": balanced_accuracy(matrix), "dprime": dprime(matrix)}


def mean_sem(values: Sequence[float] | np.ndarray, axis: int = 0) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Mean and standard error of the mean (ddof=1; 0 for a single value)."""
    values = np.asarray(values, dtype=float)
    n = values.shape[axis]
    mean = values.mean(axis=axis)
    sem = values.std(axis=axis, ddof=1) / np.sqrt(n) if n > 1 else np.zeros_like(mean)
    if np.ndim(mean) == 0:
        return float(mean), float(sem)
    return mean, sem
