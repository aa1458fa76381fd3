"""Run a sweep on Dask: a local cluster by default, any scheduler address for a real one.

Layout of a sweep directory:

    OUT/sweep.json            the sweep's runs (to check that --resume finishes the same sweep)
    OUT/runs/<run_id>/        one dataset per finished run (complete or diverged), written atomically
    OUT/runs/<run_id>.partial the state of a run in flight (epoch checkpoints, observations so far)
    OUT/failed/<run_id>.json  a run that raised: its settings, the error and the traceback
    OUT/dataset/              every shard merged (written when the sweep ends)

A killed worker loses at most the run in flight: Dask reschedules it on another worker,
where it resumes from its last epoch checkpoint; `--resume` skips finished runs. Each
worker runs one run at a time on one TensorFlow thread (lrsim.sweep.worker), so a run's
numbers do not depend on the cluster it ran on; a local cluster with one worker per
usable core pins each worker to its core (lrsim.sweep.pinning).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lrsim.spec import RunSpec
from lrsim.sweep.grid import Sweep, SweepError
from lrsim.sweep.merge import merge_sweep, shard_spec
from lrsim.sweep.worker import DASK_SETTINGS, WORKER_ENV, run_shard

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

    # ":0": the scheduler's HTTP server on a free port, so that a second sweep (or any Dask) on the
    # machine does not collide with the default 8787
    with dask.config.set(DASK_SETTINGS):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, env=dict(WORKER_ENV),
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
