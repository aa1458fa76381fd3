"""lrsim: the virtual experiment (training with learning rules, observables, sweeps)."""

__version__ = "0.1.0"
