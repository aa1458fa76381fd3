"""lrdecode: identify the learning rule from observable trajectories."""

__version__ = "0.1.0"
