"""Moved to `lrdecode.io.data`; this name stays importable for scripts and benchmarks."""

from lrdecode.io.data import *  # noqa: F403
