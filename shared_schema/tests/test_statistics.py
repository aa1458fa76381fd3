import numpy as np
import pytest
from scipy import stats

from shared_schema.statistics import (
    act_statistics,
    distribution_statistics,
    grad_statistics,
    layerwise_activity_change,
    scale_degree,
    weight_statistics,
)


def independent_statistics(x: np.ndarray) -> dict[str, float]:
    """The same definitions written with numpy/scipy's own functions."""
    mean, median = np.mean(x), np.median(x)
    return {
        "norm": float(np.linalg.norm(x)),
        "mean": float(mean),
        "median": float(median),
        "q3": float(np.percentile(x, 75)),
        "var": float(np.var(x)),
        "skew": float(3 * (mean - median) / np.std(x)),
        "kurtosis": float(stats.kurtosis(x, fisher=False, bias=True)),
    }


@pytest.mark.parametrize("sampler", ["normal", "exponential", "uniform"])
def test_distribution_statistics_equal_numpy_and_scipy(sampler):
    x = getattr(np.random.default_rng(1), sampler)(size=10_001)
    ours = distribution_statistics(x)
    for name, expected in independent_statistics(x).items():
        assert ours[name] == pytest.approx(expected, rel=1e-10), name


def test_normal_units_have_pearson_skew_near_0_and_kurtosis_near_3():
    x = np.random.default_rng(2).normal(size=400_000)
    s = distribution_statistics(x)
    assert abs(s["skew"]) < 0.02
    assert s["kurtosis"] == pytest.approx(3.0, abs=0.05)
    assert s["q3"] == pytest.approx(stats.norm.ppf(0.75), abs=0.01)


def test_exponential_units_have_the_known_moments():
    x = np.random.default_rng(3).exponential(size=400_000)
    s = distribution_statistics(x)
    assert s["median"] == pytest.approx(np.log(2), abs=0.01)
    assert s["q3"] == pytest.approx(np.log(4), abs=0.02)
    assert s["var"] == pytest.approx(1.0, abs=0.02)
    assert s["skew"] == pytest.approx(3 * (1 - np.log(2)), abs=0.03)  # Pearson's second
    assert s["kurtosis"] == pytest.approx(9.0, abs=0.4)


def test_constant_units_give_nan_skew_and_kurtosis_and_finite_rest():
    s = distribution_statistics(np.full(37, 0.1))
    assert np.isnan(s["skew"]) and np.isnan(s["kurtosis"])
    assert s["var"] == 0.0
    assert s["mean"] == pytest.approx(0.1) and s["median"] == pytest.approx(0.1)
    assert s["norm"] == pytest.approx(np.sqrt(37) * 0.1)


def test_weight_statistics_pool_every_kernel_element_per_function():
    kernel = np.random.default_rng(4).normal(size=(3, 3, 4, 8))
    ours = weight_statistics(kernel)
    assert len(ours) == 21
    flat = kernel.reshape(-1)
    for function, values in (("raw", flat), ("abs", np.abs(flat)), ("sq", flat**2)):
        for name, expected in independent_statistics(values).items():
            assert ours[f"weight.{function}.{name}"] == pytest.approx(expected, rel=1e-10)


def test_act_statistics_are_per_example_statistics_averaged_over_the_probe_set():
    responses = np.random.default_rng(5).gamma(2.0, size=(6, 4, 4, 5))  # conv output
    ours = act_statistics(responses)
    per_example = [independent_statistics(np.square(r.reshape(-1))) for r in responses]
    for name in per_example[0]:
        assert ours[f"act.sq.{name}"] == pytest.approx(np.mean([p[name] for p in per_example]), rel=1e-10)


def test_act_statistic_is_nan_when_any_probe_example_has_constant_units():
    responses = np.random.default_rng(6).normal(size=(4, 10))
    responses[2] = 0.0  # a dead ReLU layer on one example
    s = act_statistics(responses)
    assert np.isnan(s["act.raw.skew"]) and np.isfinite(s["act.raw.mean"])


def test_grad_statistics_are_means_of_f_of_the_activity_change():
    g = np.array([-2.0, 1.0, 4.0])
    assert grad_statistics(g) == {"grad.raw.id": 1.0, "grad.abs.id": 7 / 3, "grad.sq.id": 7.0}


def test_activity_change_of_a_linear_layer_is_the_kernel_sum_over_outputs():
    w = np.random.default_rng(7).normal(size=(5, 3))  # y = x @ w, dy_j/dx_i = w_ij
    jacobian = np.broadcast_to(w.T, (4, 3, 5))
    np.testing.assert_allclose(layerwise_activity_change(jacobian), np.full(4, w.sum() / 3))


@pytest.mark.parametrize("scale", [0.01, 3.7])
def test_every_statistic_of_scaled_responses_is_scaled_by_its_degree(scale):
    responses = np.random.default_rng(4).gamma(2.0, size=(12, 50)) - 1.0
    kernel = np.random.default_rng(5).normal(size=(3, 4))
    g = np.random.default_rng(6).normal(size=9)
    for compute, x in ((act_statistics, responses), (weight_statistics, kernel), (grad_statistics, g)):
        original, scaled = compute(x), compute(scale * x)
        for name, value in original.items():
            assert scaled[name] == pytest.approx(value * scale ** scale_degree(name), rel=1e-9), name


def test_scale_degrees_of_named_statistics():
    assert [scale_degree(n) for n in ("act.raw.mean", "act.abs.var", "act.sq.q3", "act.sq.var", "act.raw.skew",
                                      "weight.sq.kurtosis", "grad.sq.id")] == [1, 2, 2, 4, 0, 0, 2]
