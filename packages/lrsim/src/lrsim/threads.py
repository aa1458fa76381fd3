"""How many CPU threads TensorFlow uses for one run.

Floating-point reductions sum in a different order with a different number of threads,
and training amplifies those last-bit differences into different results. A run therefore
uses one thread by default wherever it is launched (`lrsim run`, a sweep worker), so the
same settings give the same numbers bit for bit in a fresh process (a later run in the same
process may differ in the last bits: see `lrsim.trainer`); sweeps get their parallelism
from running runs side by side, and small CPU networks gain little from a second thread.
The same limit holds for the BLAS and OpenMP pools of numpy and scipy (threadpoolctl):
more BLAS threads make the SimCLR linear probe's small lbfgs fits slower, not faster, and
take the cores of a sweep's other workers.
"""

from __future__ import annotations

import os

DEFAULT_THREADS = 1


def configure_threads(threads: int = DEFAULT_THREADS) -> bool:
    """Ask TensorFlow for `threads` intra-op threads and one inter-op thread, and limit numpy's
    and scipy's BLAS and OpenMP pools to `threads` for the rest of the process.

    TensorFlow's part must run before it executes its first operation in this process;
    returns False when that has already happened (the earlier setting stays in force).
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        return tf.config.threading.get_intra_op_parallelism_threads() == threads
    return True
