"""Sweep throughput (issue 6): runs per hour of sweeps/demo.toml with 1 and 2 workers.

Target: 2 workers >= 1.7 x the runs per hour of 1 worker on this 2-core machine. The
scheduler overhead per run is the worker time not spent inside runs, per run:
(workers x wall time - sum of run times) / runs (it includes each worker's start).
"""

from __future__ import annotations

from pathlib import Path

from lrsim.sweep.execute import run_sweep
from lrsim.sweep.grid import load_sweep

DEMO = Path(__file__).parents[1] / "sweeps" / "demo.toml"
TARGET_SPEEDUP = 1.7


def test_demo_sweep_runs_per_hour_with_one_and_two_workers(benchmark, tmp_path):
    sweep = load_sweep(DEMO)
    reports = {}

    def both() -> None:
        for workers in (1, 2):
            reports[workers] = run_sweep(sweep, tmp_path / f"workers{workers}", workers=workers, merge=False)

    benchmark.pedantic(both, rounds=1, iterations=1)
    runs = len(sweep.specs)
    per_hour = {w: runs / (r.seconds / 3600) for w, r in reports.items()}
    overhead = {w: (w * r.seconds - sum(r.run_seconds.values())) / runs for w, r in reports.items()}
    speedup = per_hour[2] / per_hour[1]
    benchmark.extra_info.update(runs=runs, runs_per_hour_1=round(per_hour[1]), runs_per_hour_2=round(per_hour[2]),
                                speedup=round(speedup, 2), overhead_s_1=round(overhead[1], 2),
                                overhead_s_2=round(overhead[2], 2))
    print(f"\n{runs} demo runs: 1 worker {reports[1].seconds:.0f} s ({per_hour[1]:.0f} runs/h), 2 workers "
          f"{reports[2].seconds:.0f} s ({per_hour[2]:.0f} runs/h), speed-up {speedup:.2f} (target >= "
          f"{TARGET_SPEEDUP}); scheduler overhead per run {overhead[1]:.2f} s (1 worker), {overhead[2]:.2f} s (2)")
    assert all(r.count("complete") + r.count("diverged") == runs for r in reports.values())
    assert speedup >= TARGET_SPEEDUP
