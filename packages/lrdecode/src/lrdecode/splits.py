"""Moved to `lrdecode.decoding.splits`; this name stays importable for scripts and benchmarks."""

from lrdecode.decoding.splits import *  # noqa: F403
