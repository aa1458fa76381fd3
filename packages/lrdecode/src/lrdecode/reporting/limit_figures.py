"""Figures of the measurement-limit analyses (subsample, consecutive, units_noise, plan).

Drawn from the results' tidy tables only (as those of `lrdecode.reporting.plots`; the analysis
registry names each one), so a result read back from its JSON plots the same.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lrdecode.io.results import Result

PORTION_ORDER = ["early", "middle", "late"]


def _panels(table: pd.DataFrame, keys: list[str]) -> list[tuple[str, pd.DataFrame]]:
    keys = [k for k in keys if k in table]
    return [(" / ".join(map(str, key if isinstance(key, tuple) else (key,))), group)
            for key, group in table.groupby(keys, sort=False)]


def _annotated_heatmap(ax: Axes, matrix: np.ndarray, sem: np.ndarray | None, vmin: float, vmax: float):
    image = ax.imshow(matrix, vmin=vmin, vmax=vmax, cmap="viridis", origin="lower", aspect="auto")
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            if np.isnan(matrix[i, j]):
                continue
            text = f"{matrix[i, j]:.2f}" + (f"\n±{sem[i, j]:.2f}" if sem is not None else "")
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] < vmin + 0.6 * (vmax - vmin) else "black")
    return image


def plot_subsample(result: Result) -> dict[str, Figure]:
    """Accuracy against the number of samples, one line per subsample period (paper Fig. 4a)."""
    panels = _panels(result.summary, ["measure", "classifier", "split"])
    fig = Figure(figsize=(4.2 * len(panels), 3.6), layout="constrained")
    for p, (title, table) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), p + 1)
        for period, rows in table.groupby("period", sort=True):
            rows = rows.sort_values("n_samples")
            ax.errorbar(rows["n_samples"], rows["accuracy_mean"], yerr=rows["accuracy_sem"], marker="o", capsize=3,
                        label=f"every {period} checkpoint(s)")
        ax.axhline(float(table["chance"].iloc[0]), color="k", linestyle="--", linewidth=1, label="chance")
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("number of samples")
        ax.set_ylabel("test accuracy (mean ± s.e.m.)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize="x-small", frameon=False, title="subsample period", title_fontsize="x-small")
    fig.suptitle("Trajectory subsampling")
    return {"subsample": fig}


def plot_consecutive(result: Result) -> dict[str, Figure]:
    """3 x 3 matrix: train portion (rows) -> test portion (columns), mean ± s.e.m. (paper Fig. 4b, S6)."""
    panels = _panels(result.summary, ["measure", "classifier", "split"])
    fig = Figure(figsize=(3.6 * len(panels), 3.4), layout="constrained")
    image = None
    for p, (title, table) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), p + 1)
        mean = table.pivot(index="train_portion", columns="test_portion", values="accuracy_mean")
        sem = table.pivot(index="train_portion", columns="test_portion", values="accuracy_sem")
        mean, sem = (m.reindex(index=PORTION_ORDER, columns=PORTION_ORDER).to_numpy() for m in (mean, sem))
        chance = float(table["chance"].iloc[0])
        image = ax.imshow(mean, vmin=chance, vmax=1, cmap="viridis")
        for i in range(3):
            for j in range(3):
                ax.text(j, i, f"{mean[i, j]:.2f}\n±{sem[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if mean[i, j] < chance + 0.6 * (1 - chance) else "black")
        ax.set_xticks(range(3), PORTION_ORDER)
        ax.set_yticks(range(3), PORTION_ORDER)
        ax.set_xlabel("tested on")
        ax.set_ylabel("trained on")
        ax.set_title(title, fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=fig.axes, shrink=0.8, label="test accuracy (color from chance)")
    return {"consecutive": fig}


def plot_units_noise(result: Result) -> dict[str, Figure]:
    """One heatmap per measure: units measured (rows, increasing upwards) x noise (decreasing to the right)."""
    summary = result.summary
    groups = _panels(summary, ["classifier", "split"])
    measures = list(dict.fromkeys(summary["measure"]))
    fig = Figure(figsize=(3.4 * len(measures) + 1, 3.0 * len(groups)), layout="constrained")
    chance = float(summary["chance"].min())
    image = None
    for g, (title, table) in enumerate(groups):
        for m, measure in enumerate(measures):
            rows = table[table["measure"] == measure]
            ax = fig.add_subplot(len(groups), len(measures), g * len(measures) + m + 1)
            units = rows.drop_duplicates("units").sort_values("units_measured")["units"].astype(str).tolist()
            noise = sorted(rows["noise_std"].unique(), reverse=True)
            mean = np.full((len(units), len(noise)), np.nan)
            sem = np.full_like(mean, np.nan)
            for row in rows.itertuples():
                i, j = units.index(str(row.units)), noise.index(row.noise_std)
                mean[i, j], sem[i, j] = row.accuracy_mean, row.accuracy_sem
            image = _annotated_heatmap(ax, mean, sem, chance, 1.0)
            ax.set_xticks(range(len(noise)), [f"{n:g}" for n in noise])
            ax.set_yticks(range(len(units)), units)
            ax.set_xlabel("noise std")
            ax.set_ylabel("units")
            ax.set_title(f"{measure} ({title})", fontsize=9)
    if image is not None:
        fig.colorbar(image, ax=fig.axes, shrink=0.8, label="test accuracy (mean; ± s.e.m.)")
    return {"units_noise": fig}


def plot_plan(result: Result) -> dict[str, Figure]:
    """The tradeoff surface, sessions x units (or noise), with the planned experiment marked."""
    plan = result.summary.iloc[0]
    surface = result.tables.get("surface")
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    title = (f"plan: {int(plan['sessions'])} sessions {int(plan['spacing'])} apart, {plan['measurement']}: "
             f"{plan['accuracy_mean']:.2f} ± {plan['accuracy_sem']:.2f} (chance {plan['chance']:.2f})")
    if surface is None or surface.empty:
        ax.bar(["planned"], [plan["accuracy_mean"]], yerr=[plan["accuracy_sem"]], capsize=4)
        ax.axhline(plan["chance"], color="k", linestyle="--", linewidth=1)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("expected accuracy (run-grouped)")
    else:
        by_units = result.settings.get("surface") == "units"
        order = ["units_measured", "noise_std"] if by_units else ["noise_std", "units_measured"]
        settings = surface.drop_duplicates("measurement").sort_values(order, ascending=[by_units, True])
        rows_axis = settings["measurement"].tolist()  # one row per setting, fewest units (or most noise) lowest
        sessions = sorted(surface["sessions"].unique())
        mean = np.full((len(rows_axis), len(sessions)), np.nan)
        sem = np.full_like(mean, np.nan)
        for row in surface.itertuples():
            i, j = rows_axis.index(row.measurement), sessions.index(row.sessions)
            mean[i, j], sem[i, j] = row.accuracy_mean, row.accuracy_sem
        image = _annotated_heatmap(ax, mean, sem, float(plan["chance"]), 1.0)
        ax.set_xticks(range(len(sessions)), [str(s) for s in sessions])
        ax.set_yticks(range(len(rows_axis)), [f"{label}\n({r.units_measured:g} units, noise {r.noise_std:g})"
                                              for label, r in zip(rows_axis, settings.itertuples(), strict=True)],
                      fontsize=7)
        ax.set_xlabel(f"sessions ({int(plan['spacing'])} checkpoint(s) apart)")
        ax.set_ylabel("measurement setting")
        if plan["sessions"] in sessions and plan["measurement"] in rows_axis:
            ax.plot(sessions.index(plan["sessions"]), rows_axis.index(plan["measurement"]), marker="*",
                    markersize=18, markerfacecolor="none", markeredgecolor="red", markeredgewidth=2, label="planned")
            ax.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.15, 1.0))
        fig.colorbar(image, ax=ax, shrink=0.8, label="expected accuracy (run-grouped)")
    ax.set_title(title, fontsize=9)
    return {"plan": fig}
