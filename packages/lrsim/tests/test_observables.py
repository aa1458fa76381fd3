"""The TensorFlow observables path equals the shared_schema numpy reference."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from lrsim.observables import LayerSnapshot, observe, unit_responses, with_full_setting
from lrsim.observables.collect import measure, rows
from lrsim.observables.grad import output_sums
from lrsim.observables.statistics import act_statistics as fast_act_statistics
from lrsim.observables.statistics import weight_statistics as fast_weight_statistics
from shared_schema import FULL, MeasurementSetting, layer_statistics
from shared_schema.statistics import act_statistics as reference_act_statistics
from shared_schema.statistics import weight_statistics as reference_weight_statistics

SETTINGS = [FULL, MeasurementSetting.parse("units=0.3,noise=0.5,seed=3"), MeasurementSetting.parse("units=5")]
RUN = "run-test"


def dense_case():
    keras.utils.set_random_seed(1)
    layer = keras.layers.Dense(7, activation="relu")
    inputs = np.random.default_rng(0).normal(size=(6, 9)).astype(np.float32)
    outputs = layer(inputs).numpy()
    return layer.kernel.numpy(), inputs, outputs, layer


def conv_case():
    keras.utils.set_random_seed(2)
    layer = keras.layers.Conv2D(4, 3, padding="same", activation="relu")
    inputs = np.random.default_rng(1).normal(size=(5, 6, 6, 2)).astype(np.float32)
    outputs = layer(inputs).numpy()
    return layer.kernel.numpy(), inputs, outputs, layer


def residual_case():
    keras.utils.set_random_seed(3)
    first = keras.layers.Conv2D(3, 3, padding="same", activation="relu")
    second = keras.layers.Conv2D(3, 3, padding="same")

    def block(x):
        return tf.nn.relu(x + second(first(x)))

    inputs = np.random.default_rng(2).normal(size=(4, 5, 5, 3)).astype(np.float32)
    outputs = block(inputs).numpy()
    return second.kernel.numpy(), inputs, outputs, block


def full_jacobian(forward, inputs: np.ndarray) -> np.ndarray:
    """dy/dx per example, (examples, outputs, inputs), by brute force (test only)."""
    x = tf.constant(inputs)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = forward(x)
    jacobian = tape.batch_jacobian(y, x).numpy()
    return jacobian.reshape(inputs.shape[0], int(np.prod(y.shape[1:])), -1)


def assert_matches_reference(ours: dict[str, float], reference: dict[str, float]) -> None:
    assert ours.keys() == reference.keys()
    for name, expected in reference.items():
        if np.isfinite(expected):
            assert ours[name] == pytest.approx(expected, rel=1e-4, abs=1e-9), name
        else:
            assert not np.isfinite(ours[name]), name


@pytest.mark.parametrize("case", [dense_case, conv_case, residual_case], ids=["dense", "conv", "residual"])
@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.label)
def test_all_45_statistics_equal_the_numpy_reference(case, setting):
    kernel, inputs, outputs, forward = case()
    layer = LayerSnapshot("block1/conv2", 3, "middle", kernel, inputs, outputs, forward)
    rows = observe([layer], [setting], run_id=RUN, checkpoint=4, epoch=0.5)
    assert len(rows) == 45
    ours = {f"{r.measure}.{r.function}.{r.statistic}": r.value for r in rows.itertuples()}
    reference = layer_statistics(setting, run_id=RUN, layer="block1/conv2", checkpoint=4, kernel=kernel,
                                 responses=outputs, jacobian=full_jacobian(forward, inputs))
    assert_matches_reference(ours, reference)


def test_rows_carry_the_measured_and_total_unit_counts():
    kernel, inputs, outputs, forward = conv_case()
    layer = LayerSnapshot("conv", 0, "early", kernel, inputs, outputs, forward)
    setting = MeasurementSetting.parse("units=0.3,noise=0.5,seed=3")
    rows = observe([layer], with_full_setting([setting]), run_id=RUN, checkpoint=0, epoch=0.0)
    counts = rows.groupby(["measurement", "measure"])[["n_units", "n_units_total"]].first()
    assert counts.loc[("all", "act")].tolist() == [144, 144]
    assert counts.loc[("units=0.3,noise=0.5,seed=3", "act")].tolist() == [44, 144]  # ceil(0.3 x 144)
    assert counts.loc[("units=0.3,noise=0.5,seed=3", "weight")].tolist() == [22, 72]
    assert counts.loc[("units=0.3,noise=0.5,seed=3", "grad")].tolist() == [44, 144]
    assert set(rows["noise_std"]) == {0.0, 0.5}


def test_the_same_seed_measures_the_same_units_and_another_seed_others():
    kernel, inputs, outputs, forward = dense_case()
    layer = LayerSnapshot("fc", 0, "early", kernel, inputs, outputs, forward)

    def values(text: str) -> np.ndarray:
        rows = observe([layer], [MeasurementSetting.parse(text)], run_id=RUN, checkpoint=2, epoch=1.0)
        return rows["value"].to_numpy()

    np.testing.assert_array_equal(values("units=3,seed=1"), values("units=3,seed=1"))
    assert not np.allclose(values("units=3,seed=1"), values("units=3,seed=2"), equal_nan=True)


def test_rows_refuse_values_that_do_not_match_the_labels():
    kernel, inputs, outputs, forward = dense_case()
    labels, values = measure([LayerSnapshot("fc", 0, "late", kernel, inputs, outputs, forward)], [FULL],
                             run_id=RUN, checkpoint=0)
    with pytest.raises(ValueError, match="44 values for 45 labelled rows"):
        rows(labels.frame(RUN), values[:-1], checkpoint=0, epoch=0.0)


def test_the_ideal_setting_is_always_collected_first_and_once():
    settings = with_full_setting([MeasurementSetting.parse("noise=1"), FULL, MeasurementSetting.parse("noise=1")])
    assert [s.label for s in settings] == ["all", "noise=1"]


def test_grad_equals_a_finite_difference_estimate_on_a_tiny_layer():
    rng = np.random.default_rng(4)
    weights, bias = rng.normal(size=(3, 2)), rng.normal(size=2)

    def forward(x):
        return tf.tanh(tf.matmul(x, weights) + bias)

    x = rng.normal(size=(4, 3))
    sums = output_sums(forward, x)  # float64 end to end
    step = 1e-6
    estimate = np.zeros_like(x)
    for i in range(3):
        shift = np.zeros(3)
        shift[i] = step
        estimate[:, i] = (np.tanh((x + shift) @ weights + bias).sum(1)
                          - np.tanh((x - shift) @ weights + bias).sum(1)) / (2 * step)
    np.testing.assert_allclose(sums, estimate, rtol=1e-6)
    rows = observe([LayerSnapshot("tiny", 0, "early", weights, x, forward(x).numpy(), forward)], [FULL],
                   run_id=RUN, checkpoint=0, epoch=0.0)
    g = estimate.sum(axis=1) / 2
    assert rows.set_index("statistic").query("measure == 'grad' and function == 'raw'")["value"].item() == \
        pytest.approx(g.mean(), rel=1e-6)


def test_a_dead_relu_layer_gives_non_finite_skew_like_the_reference():
    outputs = np.maximum(np.random.default_rng(5).normal(size=(3, 50)), 0).astype(np.float32)
    outputs[1] = 0.0
    ours, reference = fast_act_statistics(outputs), reference_act_statistics(outputs)
    assert_matches_reference(ours, reference)
    assert np.isnan(ours["act.raw.skew"]) and np.isnan(ours["act.sq.kurtosis"])


@pytest.mark.parametrize("kind", ["signed", "non-negative", "some-rows-non-negative", "above-tensorflow-size"])
def test_fast_act_statistics_equal_the_reference_whatever_the_signs_and_size(kind):
    """The fast path sorts |x| only when some value is negative and moves large tensors' moments
    to TensorFlow; every branch must give the reference's numbers."""
    rng = np.random.default_rng(11)
    rows = 16 if kind == "above-tensorflow-size" else 6
    units = (1 << 20) // rows + 7 if kind == "above-tensorflow-size" else 300
    outputs = (rng.normal(size=(rows, units)) + 0.3).astype(np.float32)
    if kind == "non-negative":
        outputs = np.maximum(outputs, 0)
    elif kind == "some-rows-non-negative":
        outputs[::2] = np.abs(outputs[::2])
    assert_matches_reference(fast_act_statistics(outputs), reference_act_statistics(outputs))


def long_kernel(kind: str) -> np.ndarray:
    """A 3x3x64x64 kernel (36,864 values: its order statistics are selected, not sorted)."""
    rng = np.random.default_rng(13)
    kernel = (0.05 * rng.normal(size=(3, 3, 64, 64))).astype(np.float32)
    flat = kernel.reshape(-1)
    if kind == "non-negative":
        np.abs(kernel, out=kernel)
    elif kind == "few-distinct-values":
        kernel[...] = rng.integers(-3, 4, size=kernel.shape)
    elif kind == "constant":
        kernel[...] = 0.25
    elif kind == "already-sorted":
        flat[:] = np.sort(flat)
    elif kind == "some-nan":
        flat[::97] = np.nan
    elif kind == "some-infinite":
        flat[::89], flat[1::89] = np.inf, -np.inf
    elif kind == "sample-misleads-the-bracket":
        flat[:: flat.size // 1024] = 1e6  # every value of the strided sample is far above the rest
    return kernel


@pytest.mark.parametrize("kind", ["signed", "non-negative", "few-distinct-values", "constant", "already-sorted",
                                  "some-nan", "some-infinite", "sample-misleads-the-bracket"])
def test_long_kernels_give_the_reference_statistics_whatever_their_values(kind):
    """Long kernels (whose |x| order is merged from the sorted x): ties, NaN, infinities and
    strided outliers must give the reference's numbers."""
    kernel = long_kernel(kind)
    with np.errstate(invalid="ignore", over="ignore"):
        ours, reference = fast_weight_statistics(kernel), reference_weight_statistics(kernel)
    assert_matches_reference(ours, reference)
    for name in ("weight.raw.median", "weight.raw.q3", "weight.abs.median", "weight.abs.q3"):
        assert ours[name] == reference[name] or np.isnan(reference[name]), name  # exact order statistics


def test_unit_responses_record_the_same_fixed_units_at_every_checkpoint():
    outputs = np.arange(4 * 30, dtype=np.float32).reshape(4, 30)
    first = unit_responses(outputs, 5, run_id=RUN, layer="fc", checkpoint=0, epoch=0.0)
    later = unit_responses(outputs * 2, 5, run_id=RUN, layer="fc", checkpoint=7, epoch=3.5)
    assert len(first) == 20 and sorted(set(first["unit"])) == sorted(set(later["unit"]))
    row = first.iloc[6]
    assert row["value"] == outputs[row["stimulus"], row["unit"]]
    assert set(first["n_units_total"]) == {30}


def test_a_probe_pass_compiled_on_one_network_measures_another_of_the_same_structure_exactly():
    from lrsim.architectures import build_network
    from lrsim.observables import probe as probe_module
    from lrsim.rules import get_rule

    def network(seed: int):
        return build_network("resnet18", (8, 8, 1), 10, width=0.125, seed=seed, credit=get_rule("fa").credit)

    probe = np.random.default_rng(0).normal(size=(6, 8, 8, 1)).astype(np.float32)
    first, second = network(0), network(1)
    probe_module._COMPILED.clear()
    of_first = probe_module.ProbePass(first, probe).snapshots()
    shared = probe_module.ProbePass(second, probe)
    assert len(probe_module._COMPILED) == 1  # the second network reuses the first one's compiled pass
    kernel = second.recorded[3].layer.kernel
    kernel.assign(2 * kernel.numpy())  # values are read at each call, not when the pass is made
    reused = shared.snapshots()
    probe_module._COMPILED.clear()
    own = probe_module.ProbePass(second, probe).snapshots()
    for a, b, other in zip(reused, own, of_first, strict=True):
        for field in ("kernel", "inputs", "outputs", "output_sums"):
            assert np.array_equal(getattr(a, field), getattr(b, field)), (a.name, field)
        assert not np.array_equal(a.kernel, other.kernel)
