"""Activity scale: statistics relative to the first session's RMS response.

A recording's responses come in units of its instrument (dF/F, spikes/s, z-scores) and a
simulated layer's in units set by its architecture, so the raw scale of activity says more
about who measured than about how the circuit learns. A matched decoder therefore divides
each act statistic of an example by r^k, where r is the example's RMS response at its first
session (sqrt of ``act.sq.mean``) and k the statistic's scale degree
(`shared_schema.statistics.scale_degree`). That equals computing every statistic on
responses divided by r: the first session's RMS becomes 1 and what is left is how activity
changes from there (its growth, its shape), in any unit.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

import shared_schema as ss
from lrdecode.errors import DecodeError
from shared_schema.statistics import scale_degree

REFERENCE = "act.sq.mean"
RELATIVE = "relative to the first session's RMS response"
ABSOLUTE = "absolute (as measured)"
SCALES = ("relative", "absolute")


def first_session_mean_square(trajectories: ss.Trajectories) -> np.ndarray:
    """Per example: the mean squared response (act.sq.mean) at its first session."""
    if REFERENCE not in trajectories.observables:
        raise DecodeError(f"the data has no {REFERENCE} statistic, which the relative scale is taken from",
                          "ingest the recording with `lrdecode ingest` (it writes every act statistic), or fit "
                          "with --scale absolute")
    column = trajectories.values[:, :, trajectories.observables.index(REFERENCE)]
    first = np.argmax(np.isfinite(column), axis=1)
    return column[np.arange(len(column)), first]


def relative_scale(trajectories: ss.Trajectories) -> ss.Trajectories:
    """Every statistic divided by r^k (module docstring); examples silent at their first session are refused."""
    mean_square = first_session_mean_square(trajectories)
    silent = ~(mean_square > 0)
    if silent.any():
        example = trajectories.examples.iloc[int(np.flatnonzero(silent)[0])]
        raise DecodeError(f"run {example['run_id']} layer {example['layer']} has no activity at its first session "
                          f"({REFERENCE} {mean_square[silent][0]}): no scale to compare its activity to",
                          "leave that area out, or fit with --scale absolute")
    degrees = np.array([scale_degree(name) for name in trajectories.observables], dtype=np.float64)
    rms = np.sqrt(mean_square)
    factors = rms[:, None] ** degrees[None, :]
    return ss.Trajectories(values=trajectories.values / factors[:, None, :], lengths=trajectories.lengths,
                           epochs=trajectories.epochs, examples=trajectories.examples,
                           observables=trajectories.observables)


def noise_shares(noise_std: ArrayLike, mean_square: ArrayLike) -> np.ndarray:
    """Noise s.d. relative to the RMS of the noise-free responses (mean_square includes the noise);
    inf where the noise is as large as the responses or the mean square is unknown."""
    noise_std, mean_square = np.asarray(noise_std, dtype=float), np.asarray(mean_square, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = noise_std / np.sqrt(mean_square - noise_std ** 2)
    return np.where(np.isfinite(ratio) & (ratio >= 0), ratio, np.inf)


def relative_noise(noise_std: float, mean_square: float) -> float:
    """`noise_shares` of one noise level, refused when the noise is as large as the responses."""
    share = float(noise_shares(noise_std, mean_square))
    if not np.isfinite(share):
        raise DecodeError(f"the noise s.d. {noise_std:.4g} is as large as the responses' RMS "
                          f"{np.sqrt(mean_square):.4g} at the first session",
                          "check --noise (the s.d. of a single response across repeats of one stimulus)")
    return share
