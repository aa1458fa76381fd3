"""The analysis commands' own options (beyond the shared ones of `lrdecode.cli.options`), their
help pages, and the analysis keywords these options give."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from lrdecode.cli.options import (
    Measure,
    Param,
    SelectAt,
    SplitChoice,
    StartChoice,
    StartOpt,
    Surface,
    UnitSource,
    comma_list,
)

EVALUATE_DOC = """Accuracy, balanced accuracy, d' and confusion matrices of classifiers on measures.

    Mean ± s.e.m. over splits, on the paper's example-level splits and on run-grouped splits.
    """
EVALUATE_SPLIT = Param("split", Annotated[SplitChoice, typer.Option(
    "--split", help="paper: the original example-level splits; grouped: whole runs on one side; twins: whole "
    "initialisations (every run of one architecture and model seed) on one side; both (paper, grouped); all "
    "(the three).")], SplitChoice.all)

GENERALIZE_DOC = """Generalisation: train on every other level of a factor, test on the held-out one."""
HOLD_OUT = Param("hold_out", Annotated[str, typer.Option(
    "--hold-out", help="Factor to hold out, one level at a time: architecture, curriculum (batch size x "
    "dataset seed), task, or any run column.")], "architecture")

IMPORTANCE_DOC = """Importance of each statistic (Gini summed over the trajectory; permutation).

    Gini importance of the random forest summed over each statistic's trajectory (paper Fig. 3),
    and the accuracy lost when a statistic's whole trajectory is shuffled across test examples.
    """
REPEATS = Param("repeats", Annotated[int, typer.Option("--repeats", min=1, help="Shuffles per statistic and split.")],
                5)

PAIRWISE_DOC = """Two-way accuracy for every pair of rules (paper Fig. S1)."""

AVERAGED_DOC = """Control: decode from trajectory means, beside the full trajectories."""

SUBSAMPLE_DOC = """Trajectory subsampling (paper Fig. 4a): accuracy for subsample periods x numbers of samples.

    Samples are taken PERIOD checkpoints apart from a random start, drawn afresh for each split.
    """
SUBSAMPLE = [
    Param("period", Annotated[list[int] | None, typer.Option(
        "--period", "-p", min=1, help="Subsample period: checkpoints between samples. Repeatable. "
        "\\[default: 1, 2, 5]")], None),
    Param("samples", Annotated[list[int] | None, typer.Option(
        "--samples", "-n", min=1, help="Number of samples per trajectory. Repeatable. \\[default: about 10, 20, 30, "
        "50, 75 and 100% of the checkpoints]")], None),
    Param("start_per", StartOpt, StartChoice.run),
]


def subsample_arguments(options: dict[str, Any]) -> dict[str, Any]:
    return {"periods": options["period"] or [1, 2, 5], "sample_counts": options["samples"] or None,
            "start_per": options["start_per"].value}


CONSECUTIVE_DOC = """Consecutive thirds (paper Fig. 4b, S6): train on the early, middle or late third, test on each.

    The same train/test split of examples for every portion, so a test example is never trained on.
    """

UNITS_NOISE_DOC = """Unit subsampling x measurement noise (paper Fig. 5): an accuracy heatmap per measure."""
UNITS_NOISE = [
    Param("source", Annotated[UnitSource, typer.Option(
        "--from", help="settings: the measurement settings the data carries (weight, act, grad); units: measure "
        "again from unit-level responses (units.parquet; act, and weight if stored) over --units x --noise.")],
        UnitSource.settings),
    Param("units", Annotated[str, typer.Option(
        "--units", help="With --from units: unit counts (200), fractions of the recorded units (0.1) or 'all', "
        "comma-separated.")], "0.1,0.25,0.5,all"),
    Param("noise", Annotated[str, typer.Option(
        "--noise", help="With --from units: noise stds, comma-separated.")], "0,0.1,0.5,1,2"),
    Param("measurement_seed", Annotated[int, typer.Option(
        "--measurement-seed", help="With --from units: seed of the unit draws and the noise.")], 0),
    Param("rules", Annotated[str | None, typer.Option(
        "--rules", help="Decode only these rules, comma-separated (the paper: fa,ia). \\[default: every rule]")],
        None),
]
UNITS_NOISE_MEASURE = Param("measure", Annotated[list[Measure] | None, typer.Option(
    "--measure", "-m", help="Measure(s), one heatmap each. Repeatable. \\[default: every measure recorded, "
    "and all]")], None)
SELECT_AT = Param("select_at", Annotated[SelectAt, typer.Option(
    "--select-at", help="reference: choose hyperparameters once per measure and split at the reference "
    "setting (the ideal instrument) and refit them at every setting; each: choose them anew in every cell "
    "(as many searches as cells).")], SelectAt.reference)


def units_noise_arguments(options: dict[str, Any]) -> dict[str, Any]:
    measure = options["measure"]
    return {"source": options["source"].value, "units": comma_list(options["units"], "--units"),
            "noise": comma_list(options["noise"], "--noise", float), "measurement_seed": options["measurement_seed"],
            "rules": comma_list(options["rules"], "--rules") or None,
            "measures": [m.value for m in measure] if measure else None, "select_at": options["select_at"].value}


PLAN_DOC = """Expected accuracy of a planned experiment, and the tradeoff surface around it.

    Estimated on simulated DATA reduced to the plan: SESSIONS samples SPACING checkpoints apart,
    the data's measurement setting nearest to UNITS units with NOISE (or, with --from units, that
    setting measured again from the unit responses), run-grouped splits (a new animal is a new run).
    """
PLAN = [
    Param("units", Annotated[float, typer.Option("--units", help="Units you will record (per area).",
                                                 show_default=False)]),
    Param("sessions", Annotated[int, typer.Option("--sessions", min=1, help="Recording sessions during learning.",
                                                  show_default=False)]),
    Param("spacing", Annotated[int, typer.Option("--spacing", min=1, help="Checkpoints of the simulation between "
                                                 "sessions.", show_default=False)]),
    Param("noise", Annotated[float, typer.Option("--noise", min=0.0, help="Measurement noise std (in the data's "
                                                 "units).")], 0.0),
    Param("measure", Annotated[Measure, typer.Option("--measure", "-m", help="What you will record.")], Measure.act),
    Param("surface", Annotated[Surface, typer.Option(
        "--surface", help="Tradeoff surface: accuracy over sessions x units (settings with your noise), sessions x "
        "noise (settings with your units), or none.")], Surface.units),
    Param("source", Annotated[UnitSource, typer.Option(
        "--from", help="settings: the data's measurement setting nearest to --units and --noise; units: measure "
        "again from unit responses (units.parquet) at exactly --units and --noise (layers with fewer units left "
        "out).")], UnitSource.settings),
    Param("unit_tolerance", Annotated[float, typer.Option(
        "--unit-tolerance", min=1.0, help="A setting is close when its units are within this factor of --units.")],
        2.0),
    Param("noise_tolerance", Annotated[float, typer.Option(
        "--noise-tolerance", min=0.0, help="... and its noise within this fraction of the larger noise.")], 0.5),
    Param("start_per", StartOpt, StartChoice.run),
]


def plan_arguments(options: dict[str, Any]) -> dict[str, Any]:
    return {"n_units": options["units"], "sessions": options["sessions"], "spacing": options["spacing"],
            "noise_std": options["noise"], "measure": options["measure"].value, "surface": options["surface"].value,
            "source": options["source"].value, "unit_tolerance": options["unit_tolerance"],
            "noise_tolerance": options["noise_tolerance"], "start_per": options["start_per"].value}
