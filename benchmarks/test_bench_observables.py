"""Observables cost: statistics of one 256 x 65,536 float32 activation tensor (issue 5a).

lrsim's path against the shared_schema numpy reference (sort-based) on the same tensor,
in the same process; target: lrsim <= 1.5 x numpy.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from lrsim.observables.statistics import act_statistics as lrsim_act_statistics
from shared_schema.statistics import act_statistics as numpy_act_statistics

TARGET_RATIO = 1.5


@pytest.fixture(scope="module")
def activations() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.maximum(rng.normal(size=(256, 65_536)), 0.0).astype(np.float32)  # ReLU-like


def median_seconds(function, argument, rounds: int = 7) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function(argument)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def test_lrsim_statistics_of_a_256_by_65536_tensor_against_numpy(benchmark, activations):
    lrsim_act_statistics(activations)  # trace the tf.function once
    ours = benchmark.pedantic(lrsim_act_statistics, args=(activations,), rounds=7, iterations=1)
    reference = numpy_act_statistics(activations)
    for name, value in reference.items():
        assert ours[name] == pytest.approx(value, rel=1e-6, nan_ok=True), name
    numpy_median = median_seconds(numpy_act_statistics, activations)
    ratio = benchmark.stats.stats.median / numpy_median
    benchmark.extra_info.update(numpy_median_s=round(numpy_median, 3), ratio_to_numpy=round(ratio, 2))
    print(f"\nlrsim {benchmark.stats.stats.median:.3f} s, numpy reference {numpy_median:.3f} s, "
          f"ratio {ratio:.2f} (target <= {TARGET_RATIO})")
    assert ratio <= TARGET_RATIO
