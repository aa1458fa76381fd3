"""The options of lrdecode's commands, each declared once.

`SHARED` holds the options every analysis command takes (the data and how to load it, the
decoding protocol, progress), in their order on the command line; a command's parameters are
`parameters()` of SHARED with its own options put in and the ones it does not take left out.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from lrdecode.errors import DecodeError


class Measure(StrEnum):
    weight = "weight"
    act = "act"
    grad = "grad"
    all = "all"


SPLIT_HELP = "paper, grouped, twins (whole initialisations on one side), both (paper, grouped) or all."


class SplitChoice(StrEnum):
    paper = "paper"
    grouped = "grouped"
    twins = "twins"
    both = "both"
    all = "all"


class StartChoice(StrEnum):
    run = "run"
    example = "example"


class UnitSource(StrEnum):
    settings = "settings"
    units = "units"


class SelectAt(StrEnum):
    reference = "reference"
    each = "each"


class Surface(StrEnum):
    units = "units"
    noise = "noise"
    none = "none"


DataArg = Annotated[list[Path], typer.Argument(
    help="Dataset directories in the shared_schema format; several are decoded as one.", show_default=False)]
MeasureOpt = Annotated[list[Measure] | None, typer.Option(
    "--measure", "-m", help="Observable measure(s) to decode from; repeat for a per-measure analysis. "
    "\\[default: all]")]
OneMeasureOpt = Annotated[Measure, typer.Option("--measure", "-m", help="Observable measure to decode from.")]
StatisticOpt = Annotated[list[str] | None, typer.Option(
    "--statistic", "-s", help="Keep only these statistics: an observable (act.abs.median, actabs_median) or a "
    "statistic (median = every function of it). Repeatable.")]
WhereOpt = Annotated[list[str] | None, typer.Option(
    "--where", "-w", help="Keep runs whose column matches: COLUMN=VALUE or COLUMN=V1,V2 (any run column: "
    "task, architecture, learning_rule, batch_size, ...; 'null' matches missing). Repeatable.")]
MeasurementOpt = Annotated[list[str] | None, typer.Option(
    "--measurement", help="Keep only these measurement settings (e.g. all, 'units=0.1,noise=0.5'). "
    "\\[default: every setting]")]
ClassifiersOpt = Annotated[list[str] | None, typer.Option(
    "--classifier", "-c", help="Classifier(s): rf|svm|conv1d|logreg|hgb (see `lrdecode classifiers`). "
    "Repeatable. \\[default: rf]")]
ClassifierOpt = Annotated[str, typer.Option("--classifier", "-c", help="Classifier: rf|svm|conv1d|logreg|hgb.")]
SplitsOpt = Annotated[int, typer.Option("--splits", min=1, help="Number of train/test splits.")]
TestFractionOpt = Annotated[float, typer.Option("--test-fraction", min=0.01, max=0.99,
                                                help="Share of each rule's examples (or runs) tested.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the splits and the models.")]
ExhaustiveOpt = Annotated[bool, typer.Option(
    "--exhaustive", help="Choose hyperparameters with the original study's full grid and 5-fold inner CV "
    "(slow; for exact comparison) instead of the default cheaper search.")]
JobsOpt = Annotated[int, typer.Option("--n-jobs", "-j", help="Parallel jobs (-1 = every core).")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Directory for the results (JSON, CSV, PNG).")]
IncompleteOpt = Annotated[bool, typer.Option(
    "--include-incomplete", help="Also decode runs that diverged or failed (their trajectories are shorter).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q",
                                        help="No progress (a bar on a terminal, else a line every ~10 s).")]
MinMetricOpt = Annotated[float | None, typer.Option(
    help="Leave out simulated runs whose final task metric (runs.parquet final_metric) is below this: networks "
    "that did not learn. One threshold for every task (a SimCLR linear probe can start high). Recordings are "
    "kept.")]
StartOpt = Annotated[StartChoice, typer.Option(
    "--start-per", help="Draw the random start once per run (its layers share the sessions, as an animal's "
    "areas do) or once per example (layer), as the paper's Appendix B.3.1.")]


@dataclass(frozen=True)
class Param:
    """One command-line parameter: its name in the command function, its typer annotation, its default."""

    name: str
    annotation: Any
    default: Any = inspect.Parameter.empty


def split_option(default: SplitChoice, help: str = SPLIT_HELP) -> Param:
    return Param("split", Annotated[SplitChoice, typer.Option("--split", help=help)], default)


ONE_CLASSIFIER = Param("classifier", ClassifierOpt, "rf")
ONE_MEASURE = Param("measure", OneMeasureOpt, Measure.all)

SHARED: tuple[Param, ...] = (
    Param("data", DataArg),
    Param("out", OutOpt),
    Param("classifier", ClassifiersOpt, None),
    Param("measure", MeasureOpt, None),
    Param("statistic", StatisticOpt, None),
    split_option(SplitChoice.paper),
    Param("where", WhereOpt, None),
    Param("measurement", MeasurementOpt, None),
    Param("splits", SplitsOpt, 10),
    Param("test_fraction", TestFractionOpt, 0.25),
    Param("seed", SeedOpt, 0),
    Param("exhaustive", ExhaustiveOpt, False),
    Param("n_jobs", JobsOpt, 1),
    Param("include_incomplete", IncompleteOpt, False),
    Param("min_metric", MinMetricOpt, None),
    Param("quiet", QuietOpt, False),
)


def parameters(replace: dict[str, Param | None] | None = None,
               after: dict[str, Sequence[Param]] | None = None) -> list[Param]:
    """SHARED, each replaced by ``replace[name]`` (None: left out), with ``after[name]`` put after it."""
    replace, after = replace or {}, after or {}
    chosen: list[Param] = []
    for param in SHARED:
        kept = replace.get(param.name, param)
        if kept is not None:
            chosen.append(kept)
        chosen += after.get(param.name, [])
    return chosen


def command_function(name: str, doc: str, params: Sequence[Param], body: Callable[[dict[str, Any]], None]
                     ) -> Callable[..., None]:
    """A function typer reads as a command: ``params`` as its signature, calling ``body(options)``."""

    def command(**options: Any) -> None:
        body(options)

    command.__name__ = command.__qualname__ = name.replace("-", "_")
    command.__doc__ = doc
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default, annotation=p.annotation)
         for p in params])
    command.__annotations__ = {p.name: p.annotation for p in params}
    return command


def split_kinds(choice: SplitChoice) -> list[str]:
    """both: paper and grouped; all: paper, grouped and twins."""
    if choice == SplitChoice.both:
        return ["paper", "grouped"]
    if choice == SplitChoice.all:
        return ["paper", "grouped", "twins"]
    return [choice.value]


def classifier_names(value: str | list[str] | None) -> list[str]:
    """--classifier as a list: one name, several, or the default (rf)."""
    if isinstance(value, str):
        return [value]
    return value or ["rf"]


def comma_list(text: str | None, option: str, kind: type = str) -> list[Any]:
    """``"0,0.5,1"`` -> [0.0, 0.5, 1.0]; a clear error naming the option otherwise."""
    if text is None:
        return []
    items = [t.strip() for t in text.split(",") if t.strip()]
    try:
        return [kind(t) for t in items]
    except ValueError:
        raise DecodeError(f"cannot read {text!r} ({option})",
                          f"give {kind.__name__} values separated by commas, e.g. {option} 0,0.5,1") from None
