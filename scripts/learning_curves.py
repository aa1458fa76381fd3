"""Plot learning curves: of a dataset's runs (runs.parquet `learning_curve`, format 1.1), or of a tune.

For a dataset: one panel per learning rule, one line per run (coloured by task and
architecture), the held-out task metric against the epoch, with the rule's target where
lrsim sets one. For an `lrsim tune` directory (its trials.jsonl): one panel per
architecture and rule, one line per trial coloured by its learning rate, the chosen rate
(regimes.json) in black. `--csv` also writes the points. Usage::

    python scripts/learning_curves.py demo-output/sweep/dataset --out docs/figures/demo-learning-curves.png
    python scripts/learning_curves.py --tune tune-knets tune-resnet --out docs/figures/tune.png
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

import shared_schema as ss

RULE_ORDER = ("sgdm", "adam", "fa", "ia", "kp")


def curve_points(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per evaluation of every run: run factors, epoch, metric, loss."""
    if "learning_curve" not in runs:
        raise SystemExit("this dataset records no learning curves (format 1.1 and lrsim write them); rerun the sweep")
    rows = []
    for run in runs.itertuples(index=False):
        for point in ss.parse_learning_curve(None if pd.isna(run.learning_curve) else run.learning_curve):
            rows.append({"run_id": run.run_id, "learning_rule": run.learning_rule, "task": run.task,
                         "architecture": run.architecture, "metric_name": getattr(run, "metric_name", None),
                         **point})
    return pd.DataFrame(rows)


def target(task: str, architecture: str, rule: str) -> float | None:
    try:
        from lrsim.regime import target_for
    except ImportError:  # lrdecode alone: no targets to draw
        return None
    return target_for(task, architecture, rule)


def plot(points: pd.DataFrame, title: str) -> plt.Figure:
    rules = [r for r in RULE_ORDER if r in set(points["learning_rule"])] + sorted(
        set(points["learning_rule"].dropna()) - set(RULE_ORDER))
    groups = sorted({(t, a) for t, a in zip(points["task"], points["architecture"], strict=True)})
    colours = {g: plt.get_cmap("tab10")(i % 10) for i, g in enumerate(groups)}
    figure, axes = plt.subplots(1, len(rules), figsize=(3.0 * len(rules), 3.2), sharey=True, squeeze=False)
    for ax, rule in zip(axes[0], rules, strict=True):
        for _, run in points[points["learning_rule"] == rule].groupby("run_id", sort=True):
            key = (run["task"].iloc[0], run["architecture"].iloc[0])
            ax.plot(run["epoch"], run["metric"], color=colours[key], linewidth=1, alpha=0.8)
        for task, architecture in groups:
            goal = target(task, architecture, rule)
            if goal is not None:
                ax.axhline(goal, color=colours[(task, architecture)], linestyle=":", linewidth=1)
        ax.set_title(rule)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1.02)
    names = list(dict.fromkeys(points["metric_name"].dropna().astype(str)))
    axes[0][0].set_ylabel(" / ".join(names) if names else "held-out metric", fontsize="small")
    handles = [plt.Line2D([], [], color=colours[g], label=f"{g[0]} / {g[1]}") for g in groups]
    figure.legend(handles=handles, loc="lower center", ncol=min(len(groups), 4), frameon=False, fontsize="small")
    figure.suptitle(title, fontsize="medium")
    figure.tight_layout(rect=(0, 0.1, 1, 1))
    return figure


def tune_points(directories: list[Path]) -> tuple[pd.DataFrame, dict[tuple[str, str, str], float]]:
    """Every evaluation of every trial of some tunes, and the chosen rate of each (task, architecture, rule)."""
    rows, chosen = [], {}
    for directory in directories:
        for line in (directory / "trials.jsonl").read_text().splitlines():
            if line.strip():
                trial = json.loads(line)
                for point in trial.get("curve", []):
                    rows.append({key: trial[key] for key in ("task", "architecture", "rule", "learning_rate", "seed")}
                                | point)
        table = json.loads((directory / "regimes.json").read_text())
        chosen |= {(r["task"], r["architecture"], r["rule"]): r["learning_rate"] for r in table["rates"]}
    return pd.DataFrame(rows), chosen


def plot_tune(points: pd.DataFrame, chosen: dict[tuple[str, str, str], float], title: str) -> plt.Figure:
    combos = sorted({(t, a) for t, a in zip(points["task"], points["architecture"], strict=True)})
    rules = [r for r in RULE_ORDER if r in set(points["rule"])]
    rates = sorted(set(points["learning_rate"]))
    span = (math.log(rates[0]), math.log(rates[-1]) if len(rates) > 1 else math.log(rates[0]) + 1)
    colour = plt.get_cmap("viridis")
    figure, axes = plt.subplots(len(combos), len(rules), figsize=(2.4 * len(rules), 1.9 * len(combos)),
                                sharex=True, sharey=True, squeeze=False)
    for i, (task, architecture) in enumerate(combos):
        for j, rule in enumerate(rules):
            ax = axes[i][j]
            trials = points[(points["task"] == task) & (points["architecture"] == architecture)
                            & (points["rule"] == rule)]
            best = chosen.get((task, architecture, rule))
            for (rate, _seed), curve in trials.groupby(["learning_rate", "seed"], sort=True):
                is_best = best is not None and math.isclose(rate, best)
                shade = (math.log(rate) - span[0]) / (span[1] - span[0])
                ax.plot(curve["epoch"], curve["metric"], linewidth=1.4 if is_best else 0.7,
                        color="black" if is_best else colour(shade), alpha=1.0 if is_best else 0.6,
                        zorder=3 if is_best else 1)
            goal = target(task, architecture, rule)
            if goal is not None:
                ax.axhline(goal, color="red", linestyle=":", linewidth=1)
            ax.set_ylim(0, 1.02)
            if i == 0:
                ax.set_title(rule)
            if j == 0:
                ax.set_ylabel(f"{architecture}\n{task}", fontsize="small")
    handles = [plt.Line2D([], [], color=colour((math.log(r) - span[0]) / (span[1] - span[0])), label=f"{r:.3g}")
               for r in rates[:: max(1, len(rates) // 6)]]
    handles += [plt.Line2D([], [], color="black", label="chosen"), plt.Line2D([], [], color="red", linestyle=":",
                                                                             label="target")]
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize="small",
                  title="learning rate at the tuning batch size")
    figure.suptitle(title, fontsize="medium")
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    return figure


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path, nargs="?", help="an lr-observables dataset directory")
    parser.add_argument("--tune", type=Path, nargs="+", help="`lrsim tune` output directories instead of a dataset")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--csv", type=Path, default=None, help="also write every plotted point to this CSV")
    parser.add_argument("--title", default=None, help="figure title (default: the input's path)")
    args = parser.parse_args(argv)
    if (args.dataset is None) == (args.tune is None):
        parser.error("give a dataset directory or --tune DIR (one of them)")
    if args.tune is not None:
        points, chosen = tune_points(args.tune)
        figure = plot_tune(points, chosen, args.title or ", ".join(map(str, args.tune)))
    else:
        points = curve_points(ss.read_dataset(args.dataset).runs)
        figure = plot(points, args.title or str(args.dataset))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.csv is not None:
        points.to_csv(args.csv, index=False)
    figure.savefig(args.out, dpi=100)
    print(args.out)


if __name__ == "__main__":
    main()
