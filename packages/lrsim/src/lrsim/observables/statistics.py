"""The 45 statistics of shared_schema/FORMAT.md §6, fast enough to take at every checkpoint.

The definitions are shared_schema.statistics (the numpy reference); this module computes
the same numbers faster. Quantiles need four order statistics of x and of |x| per row:
every row is sorted by numpy's SIMD sort (tf.sort is much slower on CPU). |x| needs
its own order only where some value is negative, and its order statistics squared are
those of x^2 (squaring is monotone on non-negative values). The centred moments are taken
in float64: by numpy, or by TensorFlow on both threads for very large tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from shared_schema.names import DISTRIBUTION_STATISTICS, FUNCTIONS

_WEIGHT_NAMES = [f"weight.{f}.{s}" for f in FUNCTIONS for s in DISTRIBUTION_STATISTICS]
_ACT_NAMES = [f"act.{f}.{s}" for f in FUNCTIONS for s in DISTRIBUTION_STATISTICS]

_MEDIAN, _Q3 = 0.5, 0.75
#: below this many values numpy computes the moments: a TensorFlow call costs more than it saves
_TENSORFLOW_FROM = 1 << 20
#: from this many units per row, |x| is sorted by merging the two runs of |sorted x|
_MERGE_FROM = 1024


@dataclass(frozen=True)
class _Orders:
    """What the statistics need of each row's order: the order statistics that the median and
    the upper quartile interpolate, (rows, 4) as [median's lower, upper, q3's lower, upper],
    of x and of |x|; which rows are constant in x and in |x|; which have no negative value."""

    raw: np.ndarray
    abs: np.ndarray
    constant_raw: np.ndarray
    constant_abs: np.ndarray
    nonnegative: np.ndarray


def _ranks(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The four ranks the median and the upper quartile interpolate between (linear
    interpolation, numpy's default), and the two interpolation weights."""
    positions = np.array([_MEDIAN, _Q3]) * (n - 1)
    lower = np.floor(positions).astype(np.intp)
    upper = np.minimum(lower + 1, n - 1)
    return np.stack([lower, upper], axis=1).reshape(-1), positions - lower


def _sorted_magnitudes(values: np.ndarray, raw_sorted: np.ndarray) -> np.ndarray:
    """|x| sorted per row. After a ReLU nothing is negative and the sort is already done. In a
    long row, |sorted x| is one descending then one ascending run, which a stable (merging)
    sort joins in linear time; in short rows the SIMD sort of |x| is faster."""
    if raw_sorted[:, 0].min() >= 0:
        return raw_sorted
    if values.shape[1] >= _MERGE_FROM:
        return np.sort(np.abs(raw_sorted), axis=1, kind="stable")
    return np.sort(np.abs(values), axis=1)


def _orders_by_sorting(values: np.ndarray, ranks: np.ndarray) -> _Orders:
    raw_sorted = np.sort(values, axis=1)
    abs_sorted = _sorted_magnitudes(values, raw_sorted)
    return _Orders(raw=raw_sorted[:, ranks], abs=abs_sorted[:, ranks],
                   constant_raw=raw_sorted[:, 0] == raw_sorted[:, -1],
                   constant_abs=abs_sorted[:, 0] == abs_sorted[:, -1],
                   nonnegative=raw_sorted[:, 0] >= 0)


@tf.function(reduce_retracing=True)
def _tensorflow_moments(units: tf.Tensor) -> dict[str, tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]]:
    """Per row and function: (sum of squares, mean, variance, fourth central moment)."""
    x = tf.cast(units, tf.float64)
    result = {}
    for function, values in (("raw", x), ("abs", tf.abs(x)), ("sq", tf.square(x))):
        mean = tf.reduce_mean(values, axis=1, keepdims=True)
        centred = tf.square(values - mean)
        result[function] = (
            tf.reduce_sum(tf.square(values), axis=1),
            tf.squeeze(mean, axis=1),
            tf.reduce_mean(centred, axis=1),
            tf.reduce_mean(tf.square(centred), axis=1),
        )
    return result


def _numpy_moments(units: np.ndarray, nonnegative: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same moments in numpy, each (functions, rows), for populations too small to repay a TensorFlow call. The
    functions are stacked on a leading axis so each reduction is one numpy call (small layers
    are dominated by per-call overhead); |x| is x itself when no value is negative."""
    n = units.shape[1]
    functions = np.empty((2 if nonnegative else 3, *units.shape))
    functions[0] = units
    if not nonnegative:
        np.abs(functions[0], out=functions[1])
    np.square(functions[0], out=functions[-1])
    sums = functions.sum(axis=2)
    mean = sums / n
    centred = functions - mean[:, :, None]
    np.square(centred, out=centred)
    var = centred.sum(axis=2) / n
    fourth = np.square(centred, out=centred).sum(axis=2) / n
    squares_of_x = sums[-1]
    squares_of_sq = np.square(functions[-1], out=functions[-1]).sum(axis=1)
    by_function = [0, 0, 1] if nonnegative else [0, 1, 2]  # raw, abs, sq
    return np.stack([squares_of_x, squares_of_x, squares_of_sq]), mean[by_function], var[by_function], \
        fourth[by_function]


def _moments(values: np.ndarray, nonnegative: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(sum of squares, mean, variance, fourth central moment), each (functions, rows)."""
    if values.size < _TENSORFLOW_FROM:
        return _numpy_moments(values, nonnegative)
    by_function = _tensorflow_moments(tf.constant(values))
    return tuple(np.stack([by_function[f][i].numpy() for f in FUNCTIONS]) for i in range(4))


def _statistics_table(values: np.ndarray) -> np.ndarray:
    """The 21 statistics of every row, (21, rows): functions in FUNCTIONS order, each with its
    seven statistics in DISTRIBUTION_STATISTICS order. All three functions are computed
    together, (functions, rows) at a time: small layers are dominated by per-call overhead."""
    if values.ndim != 2 or values.shape[1] == 0:
        raise ValueError(f"expected (rows, units) with at least one unit, got shape {values.shape}")
    if values.dtype not in (np.float32, np.float64):
        values = values.astype(np.float32)
    ranks, weight = _ranks(values.shape[1])
    orders = _orders_by_sorting(values, ranks)
    squares, mean, var, fourth = _moments(values, nonnegative=bool(orders.nonnegative.all()))
    raw, magnitude = orders.raw.astype(np.float64), orders.abs.astype(np.float64)
    order_statistics = np.stack([raw, magnitude, np.square(magnitude)])  # (functions, rows, 4)
    low, high = order_statistics[:, :, 0::2], order_statistics[:, :, 1::2]
    quantiles = low + weight * (high - low)
    median, q3 = quantiles[:, :, 0], quantiles[:, :, 1]
    constant = np.stack([orders.constant_raw, orders.constant_abs, orders.constant_abs])
    var = np.where(constant, 0.0, var)
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = np.where(constant, np.nan, 3.0 * (mean - median) / np.sqrt(var))
        kurtosis = np.where(constant, np.nan, fourth / np.square(var))
    table = np.stack([np.sqrt(squares), mean, median, q3, var, skew, kurtosis], axis=1)  # (functions, 7, rows)
    return table.reshape(len(FUNCTIONS) * len(DISTRIBUTION_STATISTICS), -1)


def weight_statistics(kernel: np.ndarray | tf.Tensor) -> dict[str, float]:
    """The 21 weight statistics: every kernel element is one unit."""
    flat = np.asarray(kernel).reshape(1, -1)
    return dict(zip(_WEIGHT_NAMES, _statistics_table(flat)[:, 0].tolist(), strict=True))


def act_statistics(responses: np.ndarray | tf.Tensor) -> dict[str, float]:
    """The 21 activation statistics: per probe example over units, then the probe-set mean."""
    values = responses.numpy() if isinstance(responses, tf.Tensor) else np.asarray(responses)
    rows = values.reshape(values.shape[0], -1)
    return dict(zip(_ACT_NAMES, _statistics_table(rows).mean(axis=1).tolist(), strict=True))


def grad_statistics(activity_change: np.ndarray) -> dict[str, float]:
    """The 3 grad statistics: the probe-set mean of g, |g| and g^2."""
    g = np.asarray(activity_change, dtype=np.float64).reshape(-1)
    return {
        "grad.raw.id": float(g.mean()),
        "grad.abs.id": float(np.abs(g).mean()),
        "grad.sq.id": float(np.square(g).mean()),
    }
