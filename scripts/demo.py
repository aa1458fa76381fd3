"""The main job end to end on the embedded digits tasks: simulate, decode, report.

1. `lrsim sweep`: every learning rule on the digits tasks, on a local Dask cluster;
2. `lrdecode evaluate / pairwise / importance`: the paper's protocol on what it wrote;
3. `lrdecode report`: one HTML page of every result, whose path is printed last.

It calls the two command lines exactly as a user would (the packages never import each
other). Run it with `nox -s demo`; `--sweep sweeps/demo-ci.toml` is the reduced size that
the integration tests run. Re-running continues a sweep that was interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROGRAMS = {"lrsim": [sys.executable, "-m", "lrsim.cli"], "lrdecode": [sys.executable, "-m", "lrdecode"]}


def step(title: str, program: str, *args: str) -> None:
    """Run one command of lrsim or lrdecode, showing it first; stop the demo if it fails."""
    shown = " ".join([program, *args])
    print(f"\n== {title}\n$ {shown}", flush=True)
    started = time.perf_counter()
    completed = subprocess.run([*PROGRAMS[program], *args], env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if completed.returncode != 0:
        sys.exit(f"demo stopped: `{shown}` failed with exit status {completed.returncode}")
    print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)


def headline(results: Path) -> str:
    """The decoded accuracy of the full observable set against chance, from evaluate.json."""
    summary = json.loads((results / "evaluate.json").read_text())["tables"]["summary"]
    lines = []
    for row in summary:
        if row["measure"] == "all":
            lines.append(f"  {row['classifier']}, {row['split']} split: accuracy {row['accuracy_mean']:.2f} "
                         f"± {row['accuracy_sem']:.2f} (chance {row['chance']:.2f})")
    return "\n".join(lines)


def task_performance(dataset: Path) -> str:
    """Each rule's held-out task metric at the end of its runs (min, mean, max): did they learn?"""
    import pandas as pd

    runs = pd.read_parquet(dataset / "runs.parquet", columns=["learning_rule", "task", "final_metric"])
    lines = []
    for (task, rule), metric in runs.groupby(["task", "learning_rule"], sort=True)["final_metric"]:
        lines.append(f"  {task:>14} {rule:>5}: {metric.min():.3f} / {metric.mean():.3f} / {metric.max():.3f} "
                     f"({len(metric)} runs)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", type=Path, default=ROOT / "sweeps" / "demo.toml", help="the sweep file to run")
    parser.add_argument("--out", type=Path, default=ROOT / "demo-output", help="where everything is written")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="Dask worker processes of the sweep, and parallel jobs of the decoding")
    parser.add_argument("--splits", type=int, default=10, help="train/test splits of each decoding analysis")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    sweep, results = args.out / "sweep", args.out / "results"
    splits = ["--splits", str(args.splits), "--n-jobs", str(args.workers), "--quiet"]
    step("1/5 simulate: every rule on the digits tasks", "lrsim", "sweep", str(args.sweep), "--out", str(sweep),
         "--workers", str(args.workers), "--resume")
    data = str(sweep / "dataset")
    print("\nheld-out task metric of the trained networks, min / mean / max (digits: top-1 accuracy, chance "
          f"0.10; simclr: linear probe):\n{task_performance(sweep / 'dataset')}", flush=True)
    step("2/5 decode the rule from each measure (paper, run-grouped and twin-grouped splits)", "lrdecode",
         "evaluate", data, "--out", str(results), "-c", "rf", "-m", "weight", "-m", "act", "-m", "grad", "-m", "all",
         *splits)
    step("3/5 which pairs of rules are hardest to tell apart (run-grouped splits)", "lrdecode", "pairwise", data,
         "--out", str(results), "--split", "grouped", *splits)
    step("4/5 which statistics carry the rule", "lrdecode", "importance", data, "--out", str(results), *splits)
    report = args.out / "report.html"
    step("5/5 report", "lrdecode", "report", str(results), "--out", str(report), "--title",
         f"Demo: {args.sweep.stem} sweep")
    print(f"\ndecoded from every observable:\n{headline(results)}")
    print(f"\ndemo finished in {(time.perf_counter() - started) / 60:.1f} min; open the report:\n{report.resolve()}")


if __name__ == "__main__":
    main()
