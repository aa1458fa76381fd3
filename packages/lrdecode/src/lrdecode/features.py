"""Moved to `lrdecode.decoding.features`; this name stays importable for scripts and benchmarks."""

from lrdecode.decoding.features import *  # noqa: F403
