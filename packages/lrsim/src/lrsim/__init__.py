"""lrsim: the virtual experiment (training with learning rules, observables, sweeps)."""

from __future__ import annotations

import os
import sys

__version__ = "0.1.0"


def _import_tensorflow_quietly() -> None:
    """Load TensorFlow with its C++ start-up lines hidden.

    Before absl logging is initialised, TensorFlow writes lines such as "Could not find cuda
    drivers on your machine" straight to file descriptor 2, whatever TF_CPP_MIN_LOG_LEVEL says;
    in a sweep every worker repeats them. Python-level errors still surface as exceptions.
    Set LRSIM_TF_STARTUP_LOGS=1 to see them.
    """
    if "tensorflow" in sys.modules or os.environ.get("LRSIM_TF_STARTUP_LOGS"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # warnings and errors also raise in Python
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_tensorflow_quietly()
