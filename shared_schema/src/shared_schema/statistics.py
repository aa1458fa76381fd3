"""The numpy reference of every observable statistic (shared_schema/FORMAT.md §6).

This module is the definition. lrsim's TensorFlow path is tested against it and lrdecode
applies it to real recordings. Everything is computed in float64.

Definitions, over the n values x_1..x_n of one population of units after the elementwise
function f (raw, abs or sq):

- norm      sqrt(sum x^2)
- mean      sum x / n
- median    50th percentile, linear interpolation between order statistics
- q3        75th percentile, same interpolation (numpy's default, Hyndman-Fan type 7)
- var       population variance, sum (x - mean)^2 / n
- skew      Pearson's second coefficient 3 (mean - median) / sqrt(var)
- kurtosis  sum (x - mean)^4 / n / var^2

When all n values are equal, var is exactly 0 and skew and kurtosis are NaN: the statistics
that "diverge" in the original study. The decoder drops non-finite features.

- weight: one population, every element of the kernel (biases excluded).
- act: one population per probe example (the layer's flattened output); each statistic is
  computed per example and then averaged over the probe set.
- grad: per probe example g = (1/N_out) sum_i sum_j dy_j/dx_i; statistic ``id`` is the mean
  over probe examples of f(g).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from shared_schema.names import DISTRIBUTION_STATISTICS, FUNCTIONS, Observable

__all__ = [
    "act_statistics",
    "apply_function",
    "distribution_statistics",
    "grad_statistics",
    "layerwise_activity_change",
    "scale_degree",
    "weight_statistics",
]


def scale_degree(name: str) -> int:
    """k such that the statistic of responses c x is c^k times that of x (c > 0).

    Responses in other units (a recording's arbitrary scale) change every statistic by a
    known power of the scale: 1 for norm, mean, median and q3 of raw or abs, 2 for their
    var and for those of sq, 4 for sq var, 0 for skew and kurtosis (grad ids: 1, 1, 2).
    """
    observable = Observable.parse(name)
    base = 2 if observable.function == "sq" else 1
    if observable.statistic in ("skew", "kurtosis"):
        return 0
    return 2 * base if observable.statistic == "var" else base


def apply_function(values: ArrayLike, function: str) -> np.ndarray:
    """The elementwise function applied before a statistic: raw, abs or sq (float64)."""
    x = np.asarray(values, dtype=np.float64)
    if function == "raw":
        return x
    if function == "abs":
        return np.abs(x)
    if function == "sq":
        return np.square(x)
    raise ValueError(f"unknown function {function!r}; expected one of {', '.join(FUNCTIONS)}")


def _quantile_sorted(sorted_values: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolation quantile along the last axis of already sorted values."""
    n = sorted_values.shape[-1]
    position = q * (n - 1)
    lower = int(np.floor(position))
    upper = min(lower + 1, n - 1)
    weight = position - lower
    low = sorted_values[..., lower]
    return low + weight * (sorted_values[..., upper] - low)


def _statistics_of_sorted(sorted_values: np.ndarray) -> dict[str, np.ndarray]:
    """The seven distribution statistics over the last axis of sorted float64 values."""
    n = sorted_values.shape[-1]
    if n == 0:
        raise ValueError("statistics need at least one unit")
    mean = sorted_values.mean(axis=-1)
    centred = sorted_values - mean[..., None]
    squared = np.square(centred)
    var = squared.mean(axis=-1)
    fourth = np.square(squared).mean(axis=-1)
    median = _quantile_sorted(sorted_values, 0.5)
    constant = sorted_values[..., 0] == sorted_values[..., -1]
    var = np.where(constant, 0.0, var)  # exactly 0, not the rounding error of the mean
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = np.where(constant, np.nan, 3.0 * (mean - median) / np.sqrt(var))
        kurtosis = np.where(constant, np.nan, fourth / np.square(var))
    return {
        "norm": np.sqrt(np.square(sorted_values).sum(axis=-1)),
        "mean": mean,
        "median": median,
        "q3": _quantile_sorted(sorted_values, 0.75),
        "var": var,
        "skew": skew,
        "kurtosis": kurtosis,
    }


def distribution_statistics(values: ArrayLike) -> dict[str, np.ndarray]:
    """The seven statistics of each row: reduces over the last axis.

    A 1-D input gives 0-d arrays; an (examples, units) input gives one value per example.
    """
    x = np.asarray(values, dtype=np.float64)
    return _statistics_of_sorted(np.sort(x, axis=-1))


def _function_statistics(units: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """All (function, statistic) pairs over the last axis, sorting twice instead of three times.

    |x| sorted and then squared is x^2 sorted (squaring is monotone on non-negatives).
    """
    raw_sorted = np.sort(units, axis=-1)
    abs_sorted = np.sort(np.abs(units), axis=-1)
    by_function = {
        "raw": _statistics_of_sorted(raw_sorted),
        "abs": _statistics_of_sorted(abs_sorted),
        "sq": _statistics_of_sorted(np.square(abs_sorted)),
    }
    return {
        (function, statistic): by_function[function][statistic]
        for function in FUNCTIONS
        for statistic in DISTRIBUTION_STATISTICS
    }


def weight_statistics(kernel: ArrayLike) -> dict[str, float]:
    """The 21 weight statistics of a kernel (every element is one unit)."""
    units = np.asarray(kernel, dtype=np.float64).reshape(-1)
    return {
        Observable("weight", function, statistic).name: float(value)
        for (function, statistic), value in _function_statistics(units).items()
    }


def act_statistics(responses: ArrayLike) -> dict[str, float]:
    """The 21 activation statistics of (probe examples, units...) responses.

    Trailing axes are flattened into units (a conv layer's H x W x C outputs). Statistics
    are taken per example over units, then averaged over examples.
    """
    x = np.asarray(responses, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(
            f"act responses need shape (probe examples, units), got shape {x.shape}"
        )
    units = x.reshape(x.shape[0], -1)
    return {
        Observable("act", function, statistic).name: float(value.mean())
        for (function, statistic), value in _function_statistics(units).items()
    }


def grad_statistics(activity_change: ArrayLike) -> dict[str, float]:
    """The 3 grad statistics: mean over probe examples of f(g), for f in raw, abs, sq."""
    g = np.asarray(activity_change, dtype=np.float64).reshape(-1)
    if g.size == 0:
        raise ValueError("grad statistics need at least one probe example")
    return {
        Observable("grad", function, "id").name: float(apply_function(g, function).mean())
        for function in FUNCTIONS
    }


def layerwise_activity_change(jacobian: ArrayLike) -> np.ndarray:
    """g per example from a full Jacobian of shape (examples, outputs, inputs).

    g = (1/N_out) sum_i sum_j dy_j/dx_i. Outputs and inputs may have any trailing shape
    as long as the Jacobian is (examples, N_out, N_in) after flattening both.
    """
    j = np.asarray(jacobian, dtype=np.float64)
    if j.ndim != 3:
        raise ValueError(f"jacobian must be (examples, outputs, inputs), got shape {j.shape}")
    return j.sum(axis=1).sum(axis=1) / j.shape[1]  # outputs first, as the measured path
