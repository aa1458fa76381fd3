"""Forget the gradient functions a finished run registered in TensorFlow's gradient registry.

Each trace of a function with a custom gradient (lrsim's backward kernels, and Keras's
optimizer, whose update goes through tf.distribute's all-reduce) registers its gradient under
a new name in TensorFlow's process-wide gradient registry, which nothing empties, and the
entry keeps the traced graph alive: a process that trains run after run (a sweep worker, a
tuning worker) would keep every run's training graphs. `custom_gradients_released` forgets
them when the run is over. The registry is TensorFlow's private API: where it is not found,
the block runs unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["custom_gradients_released"]

_released_lock = threading.Lock()
_released_blocks = 0  # custom_gradients_released blocks in progress
_registered_before: set[str] = set()  # registry names when the first of them began


@contextmanager
def custom_gradients_released() -> Iterator[None]:
    """Forget, when the block ends, the gradient functions `tf.custom_gradient` registered in it
    (`lrsim.run.execute_run` is decorated with it).

    For a block whose traced functions die with it (a run: its model, step and optimizer),
    so that nothing can ask for those gradients again. Blocks that overlap (runs on several
    threads of one worker) forget their gradients only when the last of them ends, so that no
    run loses a gradient it may still trace.
    """
    global _released_blocks, _registered_before
    from tensorflow.python.framework import ops  # the registry is not public API

    entries = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    if not isinstance(entries, dict):
        yield
        return
    with _released_lock:
        if _released_blocks == 0:
            _registered_before = set(entries)
        _released_blocks += 1
    try:
        yield
    finally:
        with _released_lock:
            _released_blocks -= 1
            if _released_blocks == 0:
                for name in [n for n in entries if n not in _registered_before and n.startswith("CustomGradient-")]:
                    del entries[name]
