"""One command per analysis of the registry (`lrdecode.analyses.ANALYSES`), generated from
`COMMANDS`: each entry names its analysis, its own options (the shared ones are declared once
in `lrdecode.cli.options`), the analysis keywords those options give, and what it prints."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import typer

from lrdecode.cli import analysis_options as own
from lrdecode.cli.options import (
    ONE_CLASSIFIER,
    ONE_MEASURE,
    Measure,
    Param,
    SelectAt,
    SplitChoice,
    Surface,
    classifier_names,
    command_function,
    parameters,
    split_kinds,
    split_option,
)
from lrdecode.cli.output import (
    describe_features,
    describe_grid,
    load_data,
    reporter,
    show_grid,
    show_scores,
    warn_exhaustive,
)
from lrdecode.cli.output import write_result as write
from lrdecode.errors import DecodeError
from lrdecode.io.results import Result
from lrdecode.limits import describe_limits

Options = dict[str, Any]


def show_default(result: Result, options: Options) -> None:
    describe_features(result)
    show_scores(result)


@dataclass(frozen=True)
class AnalysisCommand:
    """A command of the CLI that runs one registered analysis.

    replace/after: how its parameters differ from the shared ones (`lrdecode.cli.options.parameters`);
    arguments: the analysis keywords its own options give (the protocol's come from the shared options);
    check: refusals before the data is loaded; show: what it prints before writing the result.
    """

    name: str
    analysis: str
    doc: str
    replace: dict[str, Param | None] = field(default_factory=dict)
    after: dict[str, list[Param]] = field(default_factory=dict)
    arguments: Callable[[Options], dict[str, Any]] = lambda options: {}
    check: Callable[[Options], None] = lambda options: None
    show: Callable[[Result, Options], None] = show_default

    def function(self) -> Callable[..., None]:
        return command_function(self.name, self.doc, parameters(self.replace, self.after), self.run)

    def run(self, options: Options) -> None:
        from lrdecode.analyses import ANALYSES

        self.check(options)
        analysis = ANALYSES[self.analysis].run
        loaded = load_data(options["data"], options["where"], options["measurement"], options["include_incomplete"],
                           options["min_metric"])
        warn_exhaustive(options["exhaustive"], classifier_names(options["classifier"]))
        with reporter(options["quiet"]) as bars:
            result = analysis(loaded, **{**protocol_arguments(analysis, options), **self.arguments(options)},
                              reporter=bars)
        self.show(result, options)
        write(result, options["out"])


def protocol_arguments(analysis: Callable[..., Result], options: Options) -> dict[str, Any]:
    """The shared options as the keywords the analysis takes (one classifier or several, ...)."""
    given: dict[str, Callable[[], Any]] = {
        "classifiers": lambda: classifier_names(options["classifier"]),
        "classifier": lambda: options["classifier"],
        "measures": lambda: [m.value for m in options["measure"] or [Measure.all]],
        "measure": lambda: options["measure"].value,
        "statistics": lambda: options["statistic"],
        "splits": lambda: split_kinds(options["split"]),
        "split": lambda: options["split"].value,
        "n_splits": lambda: options["splits"],
        "test_fraction": lambda: options["test_fraction"],
        "seed": lambda: options["seed"],
        "exhaustive": lambda: options["exhaustive"],
        "n_jobs": lambda: options["n_jobs"],
    }
    option_of = {"classifiers": "classifier", "measures": "measure", "statistics": "statistic", "splits": "split",
                 "n_splits": "splits"}
    accepted = inspect.signature(analysis).parameters
    return {name: value() for name, value in given.items()
            if name in accepted and option_of.get(name, name) in options}


def check_one_split(options: Options) -> None:
    if options["split"] in (SplitChoice.both, SplitChoice.all):
        raise DecodeError("importance takes one split kind", "pass --split paper, grouped or twins")


def show_importance(result: Result, options: Options) -> None:
    describe_features(result)
    summary = result.summary
    columns = [c for c in ("statistic", "gini_mean", "gini_sem", "permutation_mean", "permutation_sem")
               if c in summary]
    typer.echo(summary[columns].head(10).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    accuracy = result.tables["accuracy"].iloc[0]
    typer.echo(f"({options['classifier']} accuracy {accuracy['accuracy_mean']:.3f} ± {accuracy['accuracy_sem']:.3f}; "
               f"top 10 of {len(summary)} shown)")


def show_subsample(result: Result, options: Options) -> None:
    describe_features(result)
    show_grid(result.summary, "period", "n_samples", ["measure", "classifier", "split"])
    if result.settings["infeasible"]:
        typer.echo("not scored (longer than the trajectory): " + ", ".join(
            f"{c['n_samples']} every {c['period']}" for c in result.settings["infeasible"]))


def show_consecutive(result: Result, options: Options) -> None:
    describe_features(result)
    typer.echo("portions (checkpoints): " + "; ".join(f"{name} {c[0]}-{c[-1]}"
                                                      for name, c in result.settings["portions"].items()))
    summary = result.summary.copy()
    for column in ("train_portion", "test_portion"):
        summary[column] = pd.Categorical(summary[column], ["early", "middle", "late"])
    show_grid(summary, "train_portion", "test_portion", ["measure", "classifier", "split"])


def show_units_noise(result: Result, options: Options) -> None:
    describe_grid(result)
    if options["select_at"] is SelectAt.reference:
        for measure, count in result.settings["examples_non_finite_in_some_setting"].items():
            if count:
                typer.echo(f"{measure}: left out {count} example(s) non-finite in some setting, so that every "
                           f"setting decodes the same examples")
        reference = result.tables["settings"].query("reference").groupby("measure")["measurement"].first()
        print("hyperparameters chosen per measure and split at the reference setting ("
              + ", ".join(f"{m}: {label}" for m, label in reference.items()) + "), refit at every other setting")
    summary = result.summary.sort_values(["units_measured", "noise_std"], ascending=[False, True], kind="stable")
    summary["units"] = pd.Categorical(summary["units"].astype(str), list(dict.fromkeys(summary["units"].astype(str))))
    show_grid(summary, "units", "noise_std", ["measure", "classifier", "split"])


def show_plan(result: Result, options: Options) -> None:
    units, noise, surface = options["units"], options["noise"], options["surface"]
    describe_features(result)
    row = result.summary.iloc[0]
    for line in describe_limits(units=units, noise=f"{noise:g}", units_used=(row["units_measured"],) * 2,
                                noise_used=f"{row['noise_std']:g}", how=f"measurement setting {row['measurement']}",
                                left_out=result.settings["left_out_layers"]):
        typer.echo(line)
    typer.echo(f"expected accuracy with {options['sessions']} session(s) {options['spacing']} checkpoint(s) apart: "
               f"{row['accuracy_mean']:.3f} ± {row['accuracy_sem']:.3f} (chance {row['chance']:.3f}; "
               f"{int(row['n_splits'])} run-grouped splits, {options['classifier']})")
    cells = result.tables["surface"]
    if not cells.empty:
        order = ["units_measured", "noise_std"] if surface == Surface.units else ["noise_std", "units_measured"]
        cells = cells.sort_values(order, ascending=[surface == Surface.noise, True], kind="stable")
        cells["measurement"] = pd.Categorical(cells["measurement"], list(dict.fromkeys(cells["measurement"])))
        show_grid(cells, "measurement", "sessions", ["measure"])


NOT_SPLIT = {"split": None, "splits": None, "test_fraction": None}

COMMANDS: tuple[AnalysisCommand, ...] = (
    AnalysisCommand("evaluate", "evaluate", own.EVALUATE_DOC, replace={"split": own.EVALUATE_SPLIT}),
    AnalysisCommand("generalize", "held_out", own.GENERALIZE_DOC, replace={**NOT_SPLIT, "measure": ONE_MEASURE},
                    after={"out": [own.HOLD_OUT]}, arguments=lambda o: {"factor": o["hold_out"]}),
    AnalysisCommand("importance", "importance", own.IMPORTANCE_DOC,
                    replace={"classifier": ONE_CLASSIFIER, "measure": ONE_MEASURE,
                             "split": split_option(SplitChoice.paper, "paper, grouped or twins.")},
                    after={"test_fraction": [own.REPEATS]}, arguments=lambda o: {"repeats": o["repeats"]},
                    check=check_one_split, show=show_importance),
    AnalysisCommand("pairwise", "pairwise", own.PAIRWISE_DOC, replace={"measure": ONE_MEASURE}),
    AnalysisCommand("averaged", "averaged", own.AVERAGED_DOC),
    AnalysisCommand("subsample", "subsample", own.SUBSAMPLE_DOC,
                    replace={"classifier": ONE_CLASSIFIER, "split": split_option(SplitChoice.both)},
                    after={"out": own.SUBSAMPLE}, arguments=own.subsample_arguments, show=show_subsample),
    AnalysisCommand("consecutive", "consecutive", own.CONSECUTIVE_DOC,
                    replace={"classifier": ONE_CLASSIFIER, "split": split_option(SplitChoice.both)},
                    show=show_consecutive),
    AnalysisCommand("units-noise", "units_noise", own.UNITS_NOISE_DOC,
                    replace={"classifier": ONE_CLASSIFIER, "measure": own.UNITS_NOISE_MEASURE,
                             "split": split_option(SplitChoice.both)},
                    after={"out": own.UNITS_NOISE, "min_metric": [own.SELECT_AT]},
                    arguments=own.units_noise_arguments, show=show_units_noise),
    AnalysisCommand("plan", "plan", own.PLAN_DOC,
                    replace={"classifier": ONE_CLASSIFIER, "measure": None, "split": None},
                    after={"out": own.PLAN}, arguments=own.plan_arguments, show=show_plan),
)

