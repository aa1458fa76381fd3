"""Run a sweep on Dask: a local cluster by default, any scheduler address for a real one.

Layout of a sweep directory:

    OUT/sweep.json            the sweep's runs (to check that --resume finishes the same sweep)
    OUT/runs/<run_id>/        one dataset per finished run (complete or diverged), written atomically
    OUT/runs/<run_id>.partial the state of a run in flight (epoch checkpoints, observations so far)
    OUT/failed/<run_id>.json  a run that raised: its settings, the error and the traceback
    OUT/dataset/              every shard merged (written when the sweep ends)

A killed worker loses at most the run in flight: Dask reschedules it on another worker,
where it resumes from its last epoch checkpoint; `--resume` skips finished runs. Each
worker runs one run at a time on one TensorFlow thread (lrsim.threads), so a run's
numbers do not depend on the cluster it ran on; a local cluster with one worker per
usable core pins each worker to its core (lrsim.sweep.pinning).
"""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lrsim.collector import freeze_imported_objects
from lrsim.spec import RunSpec
from lrsim.sweep.grid import Sweep, SweepError
from lrsim.sweep.merge import merge_sweep, shard_spec
from lrsim.threads import configure_threads

SWEEP_FILE = "sweep.json"


@dataclass
class SweepReport:
    """How a sweep ended."""

    out: Path
    total: int
    skipped: int = 0
    statuses: dict[str, str] = field(default_factory=dict)  # run_id -> complete | diverged | failed
    seconds: float = 0.0
    run_seconds: dict[str, float] = field(default_factory=dict)
    merged: Path | None = None

    def count(self, status: str) -> int:
        return sum(1 for s in self.statuses.values() if s == status)


def run_shard(spec_json: str, out: str) -> dict:
    """Run one spec into OUT/runs/<run_id> (called in a Dask worker process)."""
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
        _release_run_state()


def _release_run_state() -> None:
    """Drop what a finished run leaves in a long-lived worker (Keras graphs and names; the run
    forgets its custom gradients itself, `lrsim.collector.custom_gradients_released`).

    Keras's clear_session also runs a full garbage collection, cheap once the worker has frozen
    the imported libraries' objects (lrsim.collector). Measured over 10 knet4 digits runs in one
    process, each followed by this: resident memory grew
    0.08 MB a run and the collection took 10-12 ms each time (without the release: 4.6 MB a run,
    and 7 -> 41 ms). Dask's per-worker memory limit (total memory / workers) restarts a worker
    that still grows too far.
    """
    import keras

    keras.utils.clear_session()


def _prepare(sweep: Sweep, out: Path, resume: bool) -> list[RunSpec]:
    """Check OUT against the sweep and return the runs still to do."""
    record = out / SWEEP_FILE
    listing = {"name": sweep.name, "source": str(sweep.source), "runs": [json.loads(s.to_json()) for s in sweep.specs]}
    if record.exists():
        if not resume:
            raise SweepError(f"{out} already holds a sweep; pass --resume to finish it, or choose another --out")
        previous = json.loads(record.read_text())
        if previous["runs"] != listing["runs"]:
            raise SweepError(f"{out} holds a different sweep ({previous['source']}); its runs or settings differ "
                             f"from {sweep.source.name}. Choose another --out")
    else:
        out.mkdir(parents=True, exist_ok=True)
        temporary = out / f".{SWEEP_FILE}.tmp"
        temporary.write_text(json.dumps(listing, indent=1))
        os.replace(temporary, record)
    pending = []
    for spec in sweep.specs:
        shard = out / "runs" / spec.run_id
        if shard.exists():
            done = shard_spec(shard)
            if done != spec:
                raise SweepError(f"{shard} was made with other settings ({'; '.join(spec.differences(done))}); "
                                 f"remove it or choose another --out")
            continue
        failed = out / "failed" / f"{spec.run_id}.json"
        if failed.exists():
            failed.unlink()  # a resumed sweep tries failed runs again
        pending.append(spec)
    return pending


def _client(workers: int, scheduler: str | None, pin_workers: bool = True):
    import dask
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    from lrsim.sweep.pinning import PinToCore, cores_for

    # thread limits are set per run by configure_threads (run_shard), on any scheduler's workers
    env = {"TF_CPP_MIN_LOG_LEVEL": "3"}
    # ":0": the scheduler's HTTP server on a free port, so a second sweep (or any Dask) on the machine
    # does not collide with the default 8787.
    # Dask's statistical profiler samples each worker's stack every 10 ms, taking the GIL from the
    # run: off, a 15-run sweep of knet4 on 1 worker took 55.0 s instead of 63.3 s. Each nanny keeps
    # the configuration it was made with, so restarted workers keep it off too.
    # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, so that glibc hands freed memory back to
    # the system at once; TensorFlow then pays a fresh page fault for most tensors it allocates. Unset,
    # a knet4 digits run took 1.78 s instead of 2.07 s; a worker's memory stays bounded by running
    # one run at a time and clearing its state after each (_release_run_state).
    # Dask's own monitoring, at its defaults, checks each process's event loop every 20 ms, samples
    # the system every 500 ms and each worker's memory every 100 ms. On 2 busy cores that took the
    # sweep's process 2.2-2.8 CPU-seconds of a 50 s demo sweep (the scheduler lives there), time the
    # workers' runs then waited for: checked each second, sampled each 5 s, it took 0.6-0.7, and the
    # sweep 45.9 and 48.4 s instead of 49.0 and 52.9 s (alternating). A worker over its memory limit
    # is still restarted, within a second.
    with dask.config.set({"distributed.worker.profile.enabled": False,
                          "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                          "distributed.admin.tick.interval": "1s",
                          "distributed.admin.system-monitor.interval": "5s",
                          "distributed.worker.memory.monitor-interval": "1s"}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, env=env,
                               dashboard_address=":0", silence_logs=40)
    client = Client(cluster)
    cores = cores_for(workers) if pin_workers else None
    if cores:
        try:
            client.register_plugin(PinToCore(cores))
        except BaseException:
            client.close()
            cluster.close()
            raise
    return client, cluster


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    merge: bool = True,
    pin_workers: bool = True,
    on_update: Callable[[SweepReport, int], None] | None = None,
) -> SweepReport:
    """Run every pending run of a sweep on Dask; returns the report (and merges the shards).

    A local cluster with one worker per usable core pins each worker to its core
    (lrsim.sweep.pinning); `pin_workers=False` leaves them free, e.g. on a machine that other
    jobs share.
    """
    from distributed import as_completed

    out = Path(out)
    workers = workers or os.cpu_count() or 1
    start = time.perf_counter()
    pending = _prepare(sweep, out, resume)
    report = SweepReport(out=out, total=len(sweep.specs), skipped=len(sweep.specs) - len(pending))
    if pending:
        client, cluster = _client(workers, scheduler, pin_workers)
        try:
            futures = [client.submit(run_shard, spec.to_json(), str(out), key=f"lrsim-run-{spec.run_id}", pure=False,
                                     retries=1) for spec in pending]
            running = len(futures)
            if on_update:
                on_update(report, running)
            for future in as_completed(futures):
                running -= 1
                try:
                    result = future.result()
                except Exception as error:  # the worker died more often than Dask allows
                    run_id = future.key.removeprefix("lrsim-run-")
                    result = {"run_id": run_id, "status": "failed", "seconds": 0.0,
                              "detail": f"{type(error).__name__}: {error}"}
                    _record_lost(out, next(s for s in pending if s.run_id == run_id), result["detail"])
                report.statuses[result["run_id"]] = result["status"]
                report.run_seconds[result["run_id"]] = result["seconds"]
                if on_update:
                    on_update(report, running)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    if merge:
        report.merged = merge_sweep(out)
    report.seconds = time.perf_counter() - start
    return report


def _record_lost(out: Path, spec: RunSpec, detail: str) -> None:
    failed = out / "failed"
    failed.mkdir(parents=True, exist_ok=True)
    record = {"spec": json.loads(spec.to_json()), "error": detail, "traceback": ""}
    (failed / f"{spec.run_id}.json").write_text(json.dumps(record, indent=2))
