"""The figures of the decoding analyses: Result -> {figure name: Figure} (matplotlib, Agg).

Each analysis names its plot in the registry (`lrdecode.analyses.ANALYSES`). Figures are
built from the result's tidy tables only, so a result read back from its JSON plots the same.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lrdecode.io.results import Result

MEASURE_COLORS = {"weight": "#1f77b4", "act": "#d62728", "grad": "#2ca02c", "position": "#7f7f7f", "all": "#9467bd"}


def _bars(ax: Axes, table: pd.DataFrame, category: str, series: list[str], value: str = "accuracy") -> None:
    """Grouped bars of ``<value>_mean`` +- ``<value>_sem``: one group per category, one bar per series."""
    categories = list(dict.fromkeys(table[category].astype(str)))
    labels = table[series].astype(str).agg(" / ".join, axis=1) if series else pd.Series([""] * len(table))
    kinds = list(dict.fromkeys(labels))
    width = 0.8 / max(len(kinds), 1)
    for k, kind in enumerate(kinds):
        rows = table[labels.to_numpy() == kind].set_index(table[category].astype(str)[labels.to_numpy() == kind])
        heights = [rows[f"{value}_mean"].get(c, np.nan) for c in categories]
        errors = [rows[f"{value}_sem"].get(c, np.nan) if f"{value}_sem" in rows else 0 for c in categories]
        ax.bar(np.arange(len(categories)) + (k - (len(kinds) - 1) / 2) * width, heights, width, yerr=errors,
               capsize=3, label=kind or None)
    ax.set_xticks(np.arange(len(categories)), categories, rotation=30 if len(categories) > 4 else 0, ha="right"
                  if len(categories) > 4 else "center")
    if "chance" in table:
        ax.axhline(float(table["chance"].dropna().iloc[0]), color="k", linestyle="--", linewidth=1, label="chance")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("test accuracy (mean ± s.e.m.)")
    ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))


def plot_evaluate(result: Result) -> dict[str, Figure]:
    summary = result.summary
    figures = {}
    fig = Figure(figsize=(min(14.0, 3.0 + 0.6 * len(summary)), 4), layout="constrained")
    _bars(fig.add_subplot(), summary, "measure", ["classifier", "split"])
    fig.suptitle("Decoding the learning rule")
    figures["accuracy"] = fig
    figures["confusion"] = plot_confusions(result.tables["confusion"], ["measure", "classifier", "split"])
    return figures


def plot_confusions(confusion: pd.DataFrame, keys: list[str]) -> Figure:
    """One heatmap per configuration: mean rate of naming rule j when the truth is rule i."""
    panels = list(confusion.groupby(keys, sort=False))
    columns = min(len(panels), 4)
    rows = int(np.ceil(len(panels) / columns))
    fig = Figure(figsize=(3.2 * columns, 3.0 * rows), layout="constrained")
    for p, (key, table) in enumerate(panels):
        ax = fig.add_subplot(rows, columns, p + 1)
        rules = list(dict.fromkeys(table["true"]))
        matrix = table.pivot(index="true", columns="predicted", values="mean_rate").loc[rules, rules].to_numpy()
        image = ax.imshow(matrix, vmin=0, vmax=1, cmap="Blues")
        for i in range(len(rules)):
            for j in range(len(rules)):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if matrix[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(rules)), rules, rotation=45)
        ax.set_yticks(range(len(rules)), rules)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(" / ".join(map(str, key if isinstance(key, tuple) else (key,))), fontsize=9)
    fig.colorbar(image, ax=fig.axes, shrink=0.8, label="rate")
    return fig


def plot_pairwise(result: Result) -> dict[str, Figure]:
    summary = result.summary
    panels = list(summary.groupby(["classifier", "split"], sort=False))
    fig = Figure(figsize=(3.6 * len(panels), 3.2), layout="constrained")
    for p, ((classifier, split), table) in enumerate(panels):
        rules = sorted(set(table["rule_a"]) | set(table["rule_b"]))
        matrix = np.full((len(rules), len(rules)), np.nan)
        for _, row in table.iterrows():
            i, j = rules.index(row["rule_a"]), rules.index(row["rule_b"])
            matrix[i, j] = matrix[j, i] = row["accuracy_mean"]
        ax = fig.add_subplot(1, len(panels), p + 1)
        image = ax.imshow(matrix, vmin=0.5, vmax=1, cmap="viridis")
        for i in range(len(rules)):
            for j in range(len(rules)):
                if not np.isnan(matrix[i, j]):
                    ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=8, color="w")
        ax.set_xticks(range(len(rules)), rules)
        ax.set_yticks(range(len(rules)), rules)
        ax.set_title(f"{classifier} / {split}", fontsize=9)
    fig.colorbar(image, ax=fig.axes, shrink=0.8, label="two-way accuracy (chance 0.5)")
    return {"pairwise": fig}


def plot_held_out(result: Result) -> dict[str, Figure]:
    summary = result.summary
    levels = summary[summary["level"] != "mean over levels"].copy()
    levels["accuracy_sem"] = 0.0
    fig = Figure(figsize=(2 + 0.9 * levels["level"].nunique(), 4), layout="constrained")
    ax = fig.add_subplot()
    _bars(ax, levels, "level", ["classifier"])
    for _, row in summary[summary["level"] == "mean over levels"].iterrows():
        ax.axhline(row["accuracy_mean"], color="tab:red", linewidth=1,
                   label=f"{row['classifier']} mean over levels")
    ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_xlabel(f"held-out {result.settings['factor']}")
    return {"held_out": fig}


def plot_averaged(result: Result) -> dict[str, Figure]:
    fig = Figure(figsize=(5, 4), layout="constrained")
    _bars(fig.add_subplot(), result.summary, "measure", ["classifier", "split", "features"])
    fig.suptitle("Full trajectory vs trajectory average")
    return {"averaged": fig}


def plot_importance(result: Result) -> dict[str, Figure]:
    summary = result.summary
    kinds = [k for k in ("gini", "permutation") if f"{k}_mean" in summary]
    fig = Figure(figsize=(5 * len(kinds), 0.25 * len(summary) + 1.5), layout="constrained")
    for p, kind in enumerate(kinds):
        ax = fig.add_subplot(1, len(kinds), p + 1)
        table = summary.sort_values(f"{kind}_mean")
        colors = [MEASURE_COLORS.get(m, "#333333") for m in table["measure"]]
        ax.barh(table["statistic"], table[f"{kind}_mean"], xerr=table[f"{kind}_sem"], color=colors, capsize=2)
        ax.set_xlabel("Gini importance, summed over the trajectory" if kind == "gini"
                      else "accuracy lost when shuffled")
        ax.tick_params(axis="y", labelsize=7)
    handles = [matplotlib.patches.Patch(color=c, label=m) for m, c in MEASURE_COLORS.items()
               if m in set(summary["measure"])]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
    return {"importance": fig}
