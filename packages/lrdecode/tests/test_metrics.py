"""Scores: accuracy, balanced accuracy, one-vs-rest d' (log-linear corrected), mean and s.e.m."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from lrdecode.decoding import metrics


def test_confusion_counts_true_rows_and_predicted_columns():
    matrix = metrics.confusion(["a", "a", "b", "c"], ["a", "b", "b", "a"], ["a", "b", "c"])
    np.testing.assert_array_equal(matrix, [[1, 1, 0], [0, 1, 0], [1, 0, 0]])
    assert metrics.accuracy(matrix) == 0.5
    assert metrics.balanced_accuracy(matrix) == pytest.approx((0.5 + 1 + 0) / 3)


def test_dprime_is_z_hit_minus_z_false_alarm_with_the_log_linear_correction():
    matrix = np.array([[8, 2], [1, 9]])
    hit = (8 + 0.5) / (10 + 1)
    false_alarm = (1 + 0.5) / (10 + 1)
    expected_a = norm.ppf(hit) - norm.ppf(false_alarm)
    assert metrics.dprime_per_class(matrix)[0] == pytest.approx(expected_a)
    assert np.isfinite(metrics.dprime(np.diag([5, 5, 5])))  # perfect: finite thanks to the correction
    # At chance, d' is zero up to the correction's small bias (10 positives vs 30 negatives here).
    assert metrics.dprime(np.full((4, 4), 10)) == pytest.approx(0.0, abs=0.02)
    assert metrics.dprime(np.full((4, 4), 1000)) == pytest.approx(0.0, abs=2e-4)


def test_mean_and_standard_error():
    mean, sem = metrics.mean_sem([0.5, 0.7, 0.6])
    assert mean == pytest.approx(0.6) and sem == pytest.approx(0.1 / np.sqrt(3))
    assert metrics.mean_sem([0.4]) == (0.4, 0.0)
