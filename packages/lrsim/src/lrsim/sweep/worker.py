"""What a sweep worker process does around its runs: thread limits, garbage collection,
Keras's session state, and the Dask settings its local cluster starts with.

- Threads: each run uses one TensorFlow thread and one BLAS/OpenMP thread
  (`lrsim.threads.configure_threads`), so its numbers do not depend on the cluster.
- Garbage collection: TensorFlow, Keras and the libraries a run imports leave hundreds of
  thousands of objects that live as long as the process, and every full collection walks
  all of them. Frozen once (`gc.freeze`), they are left out of collections; what runs create
  is collected as before.
- Session state: after each run, Keras's `clear_session` drops the run's graphs and layer
  names (the run forgets its custom gradients itself: `lrsim.gradient_registry`), so that a
  worker's memory does not grow run after run.
- Dask: the statistical profiler, malloc trimming and the frequent monitoring that Dask turns
  on by default are set off or slowed (`DASK_SETTINGS`); Dask's per-worker memory limit still
  restarts a worker that grows too far.
"""

from __future__ import annotations

import gc
import json
import os
import time
import traceback
from pathlib import Path
from typing import Any

from lrsim.spec import RunSpec
from lrsim.threads import configure_threads

__all__ = ["DASK_SETTINGS", "WORKER_ENV", "freeze_imported_objects", "release_run_state", "run_shard"]

#: environment of a local cluster's workers (thread limits are set per run, by run_shard)
WORKER_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}

#: Dask configuration a local cluster is made with (each nanny keeps it, so restarted workers do too)
DASK_SETTINGS: dict[str, Any] = {
    # the statistical profiler samples each worker's stack every 10 ms, taking the GIL from the run
    "distributed.worker.profile.enabled": False,
    # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, so that glibc hands freed memory back
    # at once and TensorFlow pays a fresh page fault for most tensors it allocates; a worker's
    # memory stays bounded by running one run at a time and clearing its state after each
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    # Dask's monitoring (event loop, system, worker memory) takes CPU time the runs wait for on
    # busy cores; a worker over its memory limit is still restarted within a second
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}

_frozen = False


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


def release_run_state() -> None:
    """Drop what a finished run leaves in a long-lived worker (Keras graphs and names).

    Keras's clear_session also runs a full garbage collection, cheap once the worker has frozen
    the imported libraries' objects (`freeze_imported_objects`).
    """
    import keras

    keras.utils.clear_session()


def run_shard(spec_json: str, out: str) -> dict:
    """Run one spec into OUT/runs/<run_id> (called in a Dask worker process); a run that raises
    is recorded in OUT/failed/<run_id>.json."""
    configure_threads()
    freeze_imported_objects()
    from lrsim.run import execute_run

    spec = RunSpec.from_json(spec_json)
    start = time.perf_counter()
    try:
        outcome = execute_run(spec, Path(out) / "runs" / spec.run_id, resume=True, progress=False)
        return {"run_id": spec.run_id, "status": outcome.status, "detail": outcome.detail,
                "seconds": time.perf_counter() - start}
    except Exception as error:
        failed = Path(out) / "failed"
        failed.mkdir(parents=True, exist_ok=True)
        record = {"spec": json.loads(spec_json), "error": f"{type(error).__name__}: {error}",
                  "traceback": traceback.format_exc()}
        temporary = failed / f".{spec.run_id}.json.tmp"
        temporary.write_text(json.dumps(record, indent=2))
        os.replace(temporary, failed / f"{spec.run_id}.json")
        return {"run_id": spec.run_id, "status": "failed", "detail": record["error"],
                "seconds": time.perf_counter() - start}
    finally:
        release_run_state()
