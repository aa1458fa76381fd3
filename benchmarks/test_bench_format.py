"""Format at paper scale: 1,056 runs x 20 layers x 21 checkpoints x 45 statistics.

Targets (issue 2): read + pivot <= 10 s and <= 3 GB peak memory on the 2-core machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared_schema import read_dataset, write_dataset
from shared_schema.synthetic import synthetic_dataset

TARGET_SECONDS = 10.0
TARGET_PEAK_GB = 3.0


@pytest.fixture(scope="module")
def paper_scale(tmp_path_factory) -> dict:
    dataset = synthetic_dataset(runs_per_rule=264, n_layers=20, n_checkpoints=21)
    path = tmp_path_factory.mktemp("paper") / "dataset"
    start = time.perf_counter()
    write_dataset(path, dataset.runs, dataset.observables)
    seconds = time.perf_counter() - start
    return {
        "path": path,
        "values": len(dataset.observables),
        "write_seconds": seconds,
        "megabytes": sum(f.stat().st_size for f in path.iterdir()) / 1e6,
    }


def read_and_pivot(path: Path):
    return read_dataset(path).trajectories()


def test_read_and_pivot_of_a_paper_scale_dataset(benchmark, paper_scale):
    trajectories = benchmark.pedantic(read_and_pivot, args=(paper_scale["path"],), rounds=3, iterations=1)
    assert trajectories.shape == (21_120, 21, 45)
    benchmark.extra_info.update(
        values=paper_scale["values"],
        file_megabytes=round(paper_scale["megabytes"], 1),
        write_and_validate_seconds=round(paper_scale["write_seconds"], 1),
    )
    median = benchmark.stats.stats.median
    print(f"\nread+validate+pivot median {median:.2f} s; write+validate {paper_scale['write_seconds']:.1f} s; "
          f"{paper_scale['values']:,} values, {paper_scale['megabytes']:.0f} MB on disk")
    assert median <= TARGET_SECONDS


def test_peak_memory_of_read_and_pivot(benchmark, paper_scale):
    """Peak resident memory (VmHWM) of a fresh process that reads, validates and pivots.

    ru_maxrss would be wrong here: Linux carries it across execve, so a child started from
    this large benchmark process would report the parent's resident set.
    """
    script = (
        "import json, re, sys; from shared_schema import read_dataset; "
        "t = read_dataset(sys.argv[1]).trajectories(); "
        "kb = int(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)); "
        "print(json.dumps({'peak_gb': kb / 1e6}))"
    )

    def measure() -> float:
        output = subprocess.run([sys.executable, "-c", script, str(paper_scale["path"])],
                                check=True, capture_output=True, text=True).stdout
        return json.loads(output.strip().splitlines()[-1])["peak_gb"]

    peak = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info["peak_gb"] = round(peak, 2)
    print(f"\nread+validate+pivot peak resident memory {peak:.2f} GB")
    assert peak <= TARGET_PEAK_GB
