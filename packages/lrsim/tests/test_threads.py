"""A run's thread limits cover TensorFlow and the BLAS/OpenMP pools of numpy and scipy."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import numpy, scipy.linalg
from threadpoolctl import threadpool_info
from lrsim.threads import configure_threads
before = max(p["num_threads"] for p in threadpool_info())
configure_threads({threads})
import tensorflow as tf
blas = sorted({{p["num_threads"] for p in threadpool_info()}})
print(before, blas, tf.config.threading.get_intra_op_parallelism_threads())
"""


def test_configure_threads_limits_blas_already_loaded_with_more_threads_to_one():
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(threads=1)], capture_output=True, text=True,
                          check=True, env={"OPENBLAS_NUM_THREADS": "3", "OMP_NUM_THREADS": "3",
                                           "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.stdout.split() == ["3", "[1]", "1"]


def test_configure_threads_refuses_fewer_than_one_thread_with_the_count_in_the_message():
    from lrsim.threads import configure_threads

    with pytest.raises(ValueError, match="threads must be at least 1, got 0"):
        configure_threads(0)
