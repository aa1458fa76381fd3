"""Sweeps on Dask: merged, resumable, fault tolerant (a worker killed mid-run)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from typer.testing import CliRunner

from lrsim.cli import app
from lrsim.sweep.execute import run_sweep
from lrsim.sweep.grid import SweepError, load_sweep
from shared_schema import read_dataset, validate_dataset

SWEEPS = Path(__file__).parents[3] / "sweeps"

SMALL = """
name = "small"
rules = ["sgdm", "fa"]
batch_sizes = [64]
model_seeds = [0]
dataset_seeds = [0]
width = 0.25
epochs = 1
checkpoints = 3
probe_size = 16

[[tasks]]
name = "digits"
architectures = ["knet4", "knet5"]

[learning_rates]
knet5 = 1e6   # forces every knet5 run to diverge
"""

FAULT = """
name = "fault"
rules = ["sgdm", "ia"]
batch_sizes = [32]
model_seeds = [0, 1]
dataset_seeds = [0]
width = 0.25
epochs = 6
checkpoints = 7
probe_size = 16

[[tasks]]
name = "digits"
architectures = ["knet4"]
"""


def sweep_file(tmp_path: Path, text: str, name: str = "sweep.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def comparable(observables: pd.DataFrame) -> pd.DataFrame:
    frame = observables.astype(dict.fromkeys(("run_id", "layer", "measure", "function", "statistic",
                                               "measurement", "layer_position"), str))
    keys = ["run_id", "layer_index", "measurement", "measure", "function", "statistic", "checkpoint"]
    return frame.sort_values(keys).reset_index(drop=True)


def test_a_small_sweep_on_two_workers_merges_into_one_valid_dataset(tmp_path: Path):
    sweep = load_sweep(sweep_file(tmp_path, SMALL))
    report = run_sweep(sweep, tmp_path / "out", workers=2)
    assert report.count("complete") == 2 and report.count("diverged") == 2
    assert validate_dataset(report.merged).ok
    runs = read_dataset(report.merged).runs.set_index("run_id")
    assert sorted(runs.index) == sorted(s.run_id for s in sweep.specs)
    assert set(runs.loc[[s.run_id for s in sweep.specs if s.architecture == "knet5"], "status"]) == {"diverged"}
    assert runs.loc["digits_knet4_fa_bs64_ms0_ds0", "status"] == "complete"

    again = run_sweep(sweep, tmp_path / "out", workers=2, resume=True)
    assert again.skipped == 4 and not again.statuses
    with pytest.raises(SweepError, match="already holds a sweep; pass --resume"):
        run_sweep(sweep, tmp_path / "out", workers=2)
    other = load_sweep(sweep_file(tmp_path, SMALL.replace("epochs = 1", "epochs = 2"), "other.toml"))
    with pytest.raises(SweepError, match=r"holds a different sweep"):
        run_sweep(other, tmp_path / "out", workers=2, resume=True)


def test_dry_run_of_the_paper_sweep_lists_1056_runs():
    result = CliRunner().invoke(app, ["sweep", str(SWEEPS / "paper.toml"), "--out", "unused", "--dry-run"])
    assert result.exit_code == 0, result.output
    ids = [line for line in result.output.splitlines() if line.count("_") >= 5]
    assert len(ids) == len(set(ids)) == 1056
    assert "1056 runs in paper.toml" in result.output


def test_the_shipped_sweeps_expand_to_known_registry_names():
    from lrsim.architectures import ARCHITECTURES
    from lrsim.rules import RULES
    from lrsim.tasks import available_tasks

    tasks = set(available_tasks()) | {"simclr:imagenet"}
    for path in SWEEPS.glob("*.toml"):
        for spec in load_sweep(path).specs:
            assert spec.rule in RULES and spec.architecture in ARCHITECTURES and spec.task in tasks, path.name


def _workers(process: psutil.Process) -> list[psutil.Process]:
    """The Dask worker processes started by a sweep (spawned by its nannies)."""
    found = []
    for child in process.children(recursive=True):
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.NoSuchProcess:
            continue
    return found


def _sweep_process(path: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lrsim.cli", "sweep", str(path), "--out", str(out), "--workers",
                             "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"})


def test_a_worker_killed_mid_run_costs_nothing_every_run_once_and_unchanged(tmp_path: Path):
    path = sweep_file(tmp_path, FAULT)
    out = tmp_path / "out"
    process = _sweep_process(path, out)
    killed = None
    deadline = time.monotonic() + 240
    while killed is None and time.monotonic() < deadline and process.poll() is None:
        in_flight = list(out.glob("runs/*.partial/checkpoints/*.npz"))
        workers = _workers(psutil.Process(process.pid))
        if in_flight and len(workers) == 2:
            killed = workers[0]
            os.kill(killed.pid, signal.SIGKILL)
        time.sleep(0.2)
    output, _ = process.communicate(timeout=600)
    assert killed is not None, f"no run was caught in flight:\n{output}"
    assert process.returncode == 0, output

    reference = _sweep_process(path, tmp_path / "uninterrupted")
    reference_output, _ = reference.communicate(timeout=600)
    assert reference.returncode == 0, reference_output

    sweep = load_sweep(path)
    merged = read_dataset(out / "dataset")
    assert sorted(merged.runs["run_id"]) == sorted(s.run_id for s in sweep.specs)  # each exactly once
    assert set(merged.runs["status"]) == {"complete"}
    expected = comparable(read_dataset(tmp_path / "uninterrupted" / "dataset").observables)
    got = comparable(merged.observables)
    pd.testing.assert_frame_equal(got.drop(columns="value"), expected.drop(columns="value"))
    np.testing.assert_allclose(got["value"], expected["value"], rtol=1e-6, atol=1e-9, equal_nan=True)



def test_the_local_cluster_workers_run_without_the_profiler_or_malloc_trim_and_with_slow_monitoring():
    """The settings that keep Dask's own work off a busy worker reach the worker processes."""
    from lrsim.sweep.execute import _client

    def worker_settings() -> dict:  # defined here: sent to the worker by value
        import os

        import dask

        return {"profile": dask.config.get("distributed.worker.profile.enabled"),
                "tick": dask.config.get("distributed.admin.tick.interval"),
                "system_monitor": dask.config.get("distributed.admin.system-monitor.interval"),
                "memory_monitor": dask.config.get("distributed.worker.memory.monitor-interval"),
                "malloc_trim": os.environ.get("MALLOC_TRIM_THRESHOLD_")}

    client, cluster = _client(1, None)
    try:
        (settings,) = client.run(worker_settings).values()
    finally:
        client.close()
        cluster.close()
    assert settings == {"profile": False, "tick": "1s", "system_monitor": "5s", "memory_monitor": "1s",
                        "malloc_trim": None}


def test_cores_for_pins_only_a_linux_cluster_with_exactly_one_worker_per_usable_core(monkeypatch):
    from lrsim.sweep.pinning import cores_for

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {7, 2, 5}, raising=False)
    assert cores_for(3) == {0: 2, 1: 5, 2: 7}
    assert cores_for(1) is None  # the other cores may be another job's
    assert cores_for(4) is None
    monkeypatch.setattr(sys, "platform", "darwin")
    assert cores_for(3) is None


USABLE_CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0


@pytest.mark.skipif(not sys.platform.startswith("linux") or not 2 <= USABLE_CORES <= 16,
                    reason="needs Linux and 2 to 16 usable cores (one worker each)")
def test_a_full_local_cluster_pins_every_thread_of_each_worker_to_its_own_core_also_after_kill_9():
    from lrsim.sweep.execute import _client

    usable = os.sched_getaffinity(0)

    def thread_cores() -> set[int]:  # defined here: sent to the worker by value, run as a task
        import contextlib
        import os

        cores = set()
        for thread in os.listdir("/proc/self/task"):
            with contextlib.suppress(ProcessLookupError):
                cores |= os.sched_getaffinity(int(thread))
        return cores

    def cores_of_each_worker(client) -> list[set[int]]:  # in a task on each worker, so its task thread counts
        workers = sorted(client.scheduler_info()["workers"])
        return client.gather([client.submit(thread_cores, workers=[w], pure=False) for w in workers])

    client, cluster = _client(USABLE_CORES, None)
    try:
        pinned = cores_of_each_worker(client)
        pids = client.run(os.getpid)
        killed = sorted(pids)[0]
        os.kill(pids[killed], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:  # the nanny starts a new worker process, under a new address
            workers = client.scheduler_info()["workers"]
            if len(workers) == USABLE_CORES and killed not in workers:
                break
            assert time.monotonic() < deadline, "the killed worker was not replaced within 60 s"
            time.sleep(0.2)
        restarted = cores_of_each_worker(client)
    finally:
        client.close()
        cluster.close()
    for cores in (pinned, restarted):
        assert all(len(c) == 1 for c in cores) and set.union(*cores) == usable
    for workers, pin_workers in ((USABLE_CORES, False), (1, True)):  # turned off; fewer workers than cores
        client, cluster = _client(workers, None, pin_workers=pin_workers)
        try:
            assert cores_of_each_worker(client) == [usable] * workers
        finally:
            client.close()
            cluster.close()
