"""Pin each worker of a local cluster that fills the machine to a core of its own.

A run hands work back and forth between its Python thread and TensorFlow's compute thread
many times a step. With every core busy, the woken thread is often placed on another
worker's core and waits there; pinned, a hand-off stays on the worker's own core. Pinning
changes where threads run, never the numbers.

Only a cluster with one worker per usable core is pinned: with fewer workers, the other
cores may be another job's (two sweeps would both take the first cores) or hyperthreads of
the same physical core. Setting a thread's
affinity acts on that thread only, and new threads inherit their creator's, so every
thread of the worker is pinned before it runs a task.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import TYPE_CHECKING

from distributed.diagnostics.plugin import WorkerPlugin

if TYPE_CHECKING:
    from distributed import Worker

logger = logging.getLogger(__name__)


def cores_for(workers: int) -> dict[int, int] | None:
    """Worker name -> core, where a local cluster of `workers` workers has exactly one usable
    core each; None otherwise, and off Linux (no per-thread affinity calls), where workers run
    unpinned."""
    if not sys.platform.startswith("linux"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if workers != len(cores):
        return None
    return dict(enumerate(cores))


def pin_process(core: int) -> None:
    """Restrict every thread of this process, and so every thread it starts later, to `core`.

    Passes again while it finds threads it has not pinned: an unpinned thread may have started
    one during the previous pass.
    """
    pinned: set[int] = set()
    while threads := {int(thread) for thread in os.listdir("/proc/self/task")} - pinned:
        for thread in threads:
            with contextlib.suppress(ProcessLookupError):  # the thread ended meanwhile
                os.sched_setaffinity(thread, {core})
        pinned |= threads


class PinToCore(WorkerPlugin):
    """Pins each worker to its core. Dask applies it to a restarted worker too, which keeps its
    name (a LocalCluster names its workers 0, 1, ...). Pinning is for speed only: where it
    fails, the worker runs unpinned and warns on its stderr."""

    name = "lrsim-pin-to-core"

    def __init__(self, cores: dict[int, int]) -> None:
        self.cores = cores

    def setup(self, worker: Worker) -> None:
        core = self.cores.get(worker.name)
        if core is None:
            return
        try:
            pin_process(core)
        except OSError as error:
            logger.warning("worker %s runs unpinned: pinning it to core %d failed (%s)", worker.name, core, error)
