"""Pin each worker of a local cluster to a core of its own.

A run hands work back and forth between its Python thread and TensorFlow's compute thread
(~4,000 voluntary context switches in a knet4 digits run). With every core busy, the
woken thread was often placed on the other worker's core and waited there: two workers'
runs took 1.08-1.16x their time alone, each process on the CPU ~0.95 of the time. Pinned,
a hand-off stays on the worker's own core. Measured on 2 cores, alternating sweeps of
sweeps/demo.toml: 2 workers 39.2 and 39.6 s instead of 42.0 and 43.2 s; 1 worker 70.4-77.8 s
(median 71.6) instead of 72.1-75.3 s (median 75.0); the datasets bit-identical.

Only the threads a process has when it is pinned, and the threads they start later, are
pinned (`sched_setaffinity` acts on one thread), so every thread is pinned, once the worker
has started and before it runs a task.
"""

from __future__ import annotations

import contextlib
import os

from distributed.diagnostics.plugin import WorkerPlugin


def cores_for(workers: int) -> dict[int, int] | None:
    """Worker name -> core for a local cluster of `workers` workers, one usable core each.

    None where that cannot be: more workers than usable cores, or a system without affinity
    calls (macOS), where workers run unpinned.
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    if workers > len(cores):
        return None
    return dict(enumerate(cores[:workers]))


def pin_process(core: int) -> None:
    """Restrict every thread of this process, and so every thread it starts later, to `core`."""
    for thread in os.listdir("/proc/self/task"):
        with contextlib.suppress(ProcessLookupError):  # the thread ended meanwhile
            os.sched_setaffinity(int(thread), {core})


class PinToCore(WorkerPlugin):
    """Pins each worker to its core; Dask applies it to a restarted worker too, which keeps its
    name (a LocalCluster names its workers 0, 1, ...)."""

    name = "lrsim-pin-to-core"

    def __init__(self, cores: dict[int, int]):
        self.cores = cores

    def setup(self, worker) -> None:
        core = self.cores.get(worker.name)
        if core is not None:
            pin_process(core)
