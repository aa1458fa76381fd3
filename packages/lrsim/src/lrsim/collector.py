"""Python's garbage collector in a process that trains run after run (a sweep worker).

TensorFlow, Keras and the libraries a run imports leave ~425,000 objects that live as long
as the process, and every full collection walks all of them: ~0.2 s each, about once a run
on its own and once more when a worker clears up after a run (Keras's `clear_session`
collects). Frozen (`gc.freeze`), they are left out of collections; what runs create is
collected as before. Measured over 5 knet4 digits runs in one process: `clear_session`
0.22 -> 0.01 s a run, the same peak memory and the same growth of tracked objects per run.

That growth was a leak: each trace of a function with a custom gradient (lrsim's backward
kernels, and Keras's optimizer, whose update goes through tf.distribute's all-reduce)
registers its gradient under a new name in TensorFlow's process-wide gradient registry,
which nothing empties, and the entry keeps the traced graph alive: ~5,800 objects a knet4
digits run. `custom_gradients_released` forgets them when the run is over.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_frozen = False
_released_lock = threading.Lock()
_released_blocks = 0  # custom_gradients_released blocks in progress
_registered_before: set[str] = set()  # registry names when the first of them began


def freeze_imported_objects() -> bool:
    """Import what a run uses, collect once, and freeze every object alive now; once per
    process (a later call does nothing, so that no garbage of a finished run is frozen).
    Returns whether this call froze."""
    global _frozen
    if _frozen:
        return False
    import lrsim.run  # noqa: F401  (TensorFlow, Keras, pandas, pyarrow: what every run needs)

    gc.collect()  # garbage frozen now would never be freed
    gc.freeze()
    _frozen = True
    return True


@contextmanager
def custom_gradients_released() -> Iterator[None]:
    """Forget, when the block ends, the gradient functions `tf.custom_gradient` registered in it
    (`lrsim.run.execute_run` is decorated with it).

    For a block whose traced functions die with it (a run: its model, step and optimizer),
    so that nothing can ask for those gradients again. Without it a sweep worker kept every
    run's training graphs: over 10 knet4 digits runs in one process, resident memory grew
    4.6 MB a run (0.08 MB with it) and the collection after each run took 7 -> 41 ms (10-12 ms).
    Blocks that overlap (runs on several threads of one worker) forget their gradients only
    when the last of them ends, so that no run loses a gradient it may still trace.
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
