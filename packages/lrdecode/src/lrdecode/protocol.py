"""Moved to `lrdecode.decoding.protocol`; this name stays importable for scripts and benchmarks."""

from lrdecode.decoding.protocol import *  # noqa: F403
