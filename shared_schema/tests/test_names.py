from shared_schema.names import (
    OBSERVABLE_NAMES,
    OBSERVABLES,
    Observable,
    from_legacy,
    layer_positions,
    observable_names,
    to_legacy,
)

# ALL_OBS of neuroailab/lr-identify observable_names.py: the 45 statistics of the study.
ORIGINAL_NAMES = [
    f"{m}{f}_{s}"
    for m in ("weight", "act")
    for f in ("abs", "raw", "sq")
    for s in ("kurtosis", "mean", "median", "norm", "skew", "thirdquartile", "var")
] + ["gradavgabs_id", "gradavgraw_id", "gradavgsq_id"]


def test_there_are_45_statistics_21_weight_21_act_3_grad():
    assert len(OBSERVABLES) == 45
    assert [len(observable_names(m)) for m in ("weight", "act", "grad")] == [21, 21, 3]
    assert len(set(OBSERVABLE_NAMES)) == 45


def test_legacy_names_map_both_ways_onto_the_original_45():
    assert sorted(to_legacy(n) for n in OBSERVABLE_NAMES) == sorted(ORIGINAL_NAMES)
    for name in ORIGINAL_NAMES:
        assert to_legacy(from_legacy(name)) == name
    assert to_legacy("act.abs.median") == "actabs_median"
    assert to_legacy("weight.sq.q3") == "weightsq_thirdquartile"
    assert from_legacy("gradavgraw_id") == "grad.raw.id"


def test_undefined_observables_are_refused_with_the_allowed_values():
    for bad in ("weight.raw.id", "grad.raw.mean", "act.log.mean", "spikes.raw.mean"):
        try:
            Observable.parse(bad)
        except ValueError as error:
            assert "expected one of" in str(error) or "unknown" in str(error)
        else:
            raise AssertionError(f"{bad} was accepted")


def test_layer_positions_follow_the_original_depth_thirds():
    assert layer_positions(4) == ["early", "middle", "deep", "deep"]  # KNet4
    assert layer_positions(5) == ["early", "middle", "deep", "deep", "deep"]  # KNet5
    assert layer_positions(8) == ["early"] * 2 + ["middle"] * 2 + ["deep"] * 4  # AlexNet
    assert layer_positions(1) == ["early"]
