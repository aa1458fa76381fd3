"""What every analysis shares: building features from loaded data, and describing the data."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from lrdecode.decoding.features import FeatureSet, build_features
from lrdecode.decoding.splits import SPLIT_KINDS
from lrdecode.io.data import LoadedData


def features_for(data: LoadedData, measure: str = "all", statistics: Sequence[str] | None = None,
                 average: bool = False) -> FeatureSet:
    return build_features(data.trajectories, measure=measure, statistics=statistics, average=average)


def describe(data: LoadedData, features: dict[str, FeatureSet]) -> dict[str, Any]:
    """Sources, runs set aside, and for each feature set what went into it (and what did not)."""
    return {
        "sources": list(data.sources),
        "runs": data.n_runs,
        "excluded_runs": data.excluded.to_dict(orient="records"),
        "features": {name: fs.describe() for name, fs in features.items()},
    }


def check_split_kinds(kinds: Sequence[str]) -> list[str]:
    from lrdecode.errors import DecodeError

    unknown = [k for k in kinds if k not in SPLIT_KINDS]
    if unknown:
        raise DecodeError(f"unknown split {unknown[0]!r}", f"use {' or '.join(SPLIT_KINDS)}")
    return list(dict.fromkeys(kinds))


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Tables of several runs of an analysis, as one (empty when there are none)."""
    frames = [f for f in frames if f is not None and len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
