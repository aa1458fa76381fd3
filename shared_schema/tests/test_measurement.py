import numpy as np
import pytest

from shared_schema.measurement import FULL, MeasurementSetting, layer_statistics
from shared_schema.statistics import (
    act_statistics,
    grad_statistics,
    layerwise_activity_change,
    weight_statistics,
)

WHERE = {"run_id": "run-a", "layer": "conv1"}


def test_settings_parse_and_print_canonically():
    assert MeasurementSetting.parse("units=0.1,noise=0.5") == MeasurementSetting(0.1, 0.5)
    assert MeasurementSetting.parse("units=200").units == 200
    assert MeasurementSetting.parse("units=1.0").is_full
    assert MeasurementSetting.parse("all") == FULL
    for text in ("units=0.1,noise=0.5", "units=200,seed=3", "noise=2", "all"):
        assert MeasurementSetting.parse(text).label == text


@pytest.mark.parametrize("bad", ["units=0", "units=1.5", "noise=-1", "gain=2", "units=0.1;noise=2",
                                 "units=0.1,units=0.2", "seed=-3"])
def test_malformed_settings_are_refused(bad):
    with pytest.raises(ValueError):
        MeasurementSetting.parse(bad)


def test_fractions_round_up_to_at_least_one_unit_and_counts_are_capped():
    assert MeasurementSetting(0.001).n_measured(10) == 1
    assert MeasurementSetting(0.25).n_measured(10) == 3
    assert MeasurementSetting(50).n_measured(10) == 10


def test_same_seed_same_units_and_other_seeds_runs_layers_streams_differ():
    setting = MeasurementSetting(0.1, seed=7)
    units = setting.unit_indices(1000, stream="act", **WHERE)
    assert np.array_equal(units, MeasurementSetting(0.1, seed=7).unit_indices(1000, stream="act", **WHERE))
    assert len(units) == 100 and np.all(np.diff(units) > 0)
    others = [
        MeasurementSetting(0.1, seed=8).unit_indices(1000, stream="act", **WHERE),
        setting.unit_indices(1000, stream="act", run_id="run-b", layer="conv1"),
        setting.unit_indices(1000, stream="act", run_id="run-a", layer="conv2"),
        setting.unit_indices(1000, stream="grad_in", **WHERE),
    ]
    assert all(not np.array_equal(units, other) for other in others)


def test_units_stay_fixed_across_checkpoints_while_noise_is_redrawn():
    setting = MeasurementSetting(0.5, noise_std=1.0, seed=1)
    x = np.zeros((3, 40))
    a = setting.measure(x, stream="act", checkpoint=0, **WHERE)
    b = setting.measure(x, stream="act", checkpoint=1, **WHERE)
    assert a.shape == b.shape == (3, 20)
    assert not np.allclose(a, b)
    values = np.arange(40.0)[None, :]
    kept = MeasurementSetting(0.5, seed=1).measure(values, stream="act", checkpoint=5, **WHERE)
    again = MeasurementSetting(0.5, seed=1).measure(values, stream="act", checkpoint=9, **WHERE)
    assert np.array_equal(kept, again)


def test_all_units_without_noise_give_the_exact_statistics():
    rng = np.random.default_rng(0)
    kernel, responses = rng.normal(size=(3, 3, 2, 4)), rng.normal(size=(5, 12))
    jacobian = rng.normal(size=(5, 12, 9))
    measured = layer_statistics(FULL, checkpoint=3, kernel=kernel, responses=responses,
                                jacobian=jacobian, **WHERE)
    exact = weight_statistics(kernel) | act_statistics(responses) | grad_statistics(
        layerwise_activity_change(jacobian))
    assert measured == exact


def test_noise_adds_its_variance_to_the_measured_units():
    setting = MeasurementSetting(noise_std=2.0, seed=4)
    responses = np.random.default_rng(1).normal(size=(50, 20_000))
    measured = layer_statistics(setting, checkpoint=0, responses=responses, **WHERE)
    assert measured["act.raw.var"] == pytest.approx(1.0 + 4.0, rel=0.02)


def test_grad_under_subsampling_uses_separate_input_and_output_draws():
    rng = np.random.default_rng(2)
    jacobian = rng.normal(size=(4, 30, 50))
    setting = MeasurementSetting(0.2, seed=5)
    outputs = setting.unit_indices(30, stream="grad_out", **WHERE)
    inputs = setting.unit_indices(50, stream="grad_in", **WHERE)
    expected = jacobian[:, outputs][:, :, inputs].sum(axis=(1, 2)) / len(outputs)
    measured = layer_statistics(setting, checkpoint=0, jacobian=jacobian, **WHERE)
    assert measured["grad.raw.id"] == pytest.approx(expected.mean(), rel=1e-12)
    assert len(outputs) == 6 and len(inputs) == 10
