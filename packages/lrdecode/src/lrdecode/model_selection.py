"""Moved to `lrdecode.decoding.model_selection`; this name stays importable for scripts and benchmarks."""

from lrdecode.decoding.model_selection import *  # noqa: F403
