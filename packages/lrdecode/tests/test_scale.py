"""The relative activity scale refuses what it cannot scale, saying why and what to do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import shared_schema as ss
from lrdecode.decoding.scale import noise_shares, relative_noise, relative_scale
from lrdecode.errors import DecodeError


def trajectories(observables: tuple[str, ...], first_mean_square: float) -> ss.Trajectories:
    values = np.ones((1, 3, len(observables)))
    if "act.sq.mean" in observables:
        values[0, 0, observables.index("act.sq.mean")] = first_mean_square
    return ss.Trajectories(values=values, lengths=np.full((1, len(observables)), 3), epochs=np.arange(3.0)[None],
                           examples=pd.DataFrame({"run_id": ["rec"], "layer": ["V1"]}), observables=observables)


def test_data_without_the_reference_statistic_is_refused_with_the_fix():
    with pytest.raises(DecodeError, match=r"no act.sq.mean statistic.*--scale absolute"):
        relative_scale(trajectories(("act.raw.mean",), 1.0))


def test_an_area_silent_at_its_first_session_is_refused_by_name():
    with pytest.raises(DecodeError, match=r"run rec layer V1 has no activity at its first session.*leave that area"):
        relative_scale(trajectories(("act.raw.mean", "act.sq.mean"), 0.0))


def test_noise_as_large_as_the_responses_is_refused_and_marked_infinite_among_settings():
    with pytest.raises(DecodeError, match=r"noise s.d. 2 is as large as the responses' RMS 2.*check --noise"):
        relative_noise(2.0, 4.0)
    assert relative_noise(0.6, 1.0) == pytest.approx(0.75)
    np.testing.assert_array_equal(noise_shares([0.0, 2.0, 0.5], [1.0, 4.0, np.nan]), [0.0, np.inf, np.inf])
