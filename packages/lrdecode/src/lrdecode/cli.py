"""`lrdecode`: name the learning rule from observable trajectories, and run the paper's analyses."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer

from lrdecode import __version__
from lrdecode.errors import DecodeError

if TYPE_CHECKING:
    from lrdecode.data import LoadedData
    from lrdecode.progress import Reporter
    from lrdecode.results import Result

app = typer.Typer(
    help="Name the learning rule that trained a network (or a circuit) from the trajectories of its "
    "observables (weights, activations, layer-wise activity changes), and run the analyses of "
    "Nayebi et al. 2020. Data: shared_schema datasets (simulated or recorded).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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


def _fail(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Bad input -> one clear message and exit status 1; warnings shown once each; no tracebacks."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from shared_schema import FormatError

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    return command(*args, **kwargs)
                finally:
                    for message in dict.fromkeys(str(w.message) for w in caught):
                        typer.secho(f"warning: {message}", err=True, fg=typer.colors.YELLOW)
        except (DecodeError, FormatError) as error:
            _fail(f"error: {error}")
        except (FileNotFoundError, FileExistsError, PermissionError, IsADirectoryError, NotADirectoryError) as error:
            _fail(f"error: {error.strerror or error}: {error.filename}")
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            _fail("interrupted")
        except Exception as error:  # a bug: say so without a traceback unless asked
            if os.environ.get("LRDECODE_DEBUG"):
                raise
            _fail(f"internal error ({type(error).__name__}: {error}). This is a bug in lrdecode {__version__}; "
                  f"rerun with LRDECODE_DEBUG=1 for the traceback.")

    return wrapper


class RichReporter:
    """Progress bars on stderr (rich), one per configuration (its splits, or one fit), with the
    time left and the latest note from inside the unit in progress."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[note]}"),
                                 console=Console(stderr=True))
        self.task: Any = None

    def start(self, label: str, total: int) -> None:
        if self.task is None:
            self.progress.start()
        self.task = self.progress.add_task(label, total=total, note="")

    def advance(self, step: int = 1) -> None:
        self.progress.update(self.task, advance=step, note="")

    def note(self, text: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, note=text)

    def finish(self) -> None:
        pass

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()


@contextmanager
def reporter(quiet: bool) -> Iterator[Reporter]:
    """Silence with --quiet; progress bars on a terminal; else a plain line on stderr every ~10 s."""
    from lrdecode.progress import SILENT, PlainReporter

    if quiet:
        yield SILENT
        return
    shown: RichReporter | PlainReporter = RichReporter() if sys.stderr.isatty() else PlainReporter()
    try:
        yield shown
    finally:
        shown.close()


def _load(data: list[Path], where: list[str] | None, measurement: list[str] | None,
          include_incomplete: bool, min_metric: float | None = None) -> LoadedData:
    from lrdecode.data import load, parse_where

    loaded = load(data, where=parse_where(where or []), measurements=measurement or None,
                  include_incomplete=include_incomplete, min_metric=min_metric)
    reasons = loaded.excluded["reason"].value_counts()
    unfinished = sum(n for r, n in reasons.items() if r.startswith("status"))
    if unfinished:
        typer.secho(f"note: left out {unfinished} run(s) that did not complete ("
                    + ", ".join(f"{n} {r}" for r, n in reasons.items() if r.startswith("status"))
                    + "); --include-incomplete keeps them", err=True, fg=typer.colors.YELLOW)
    if min_metric is not None:
        unlearned = len(loaded.excluded) - unfinished
        typer.secho(f"note: --min-metric {min_metric:g} left out {unlearned} run(s) whose final metric is below it "
                    f"or missing; {loaded.n_runs} run(s) remain", err=True, fg=typer.colors.YELLOW)
    return loaded


def _warn_exhaustive(exhaustive: bool, classifiers: list[str]) -> None:
    """Say what --exhaustive costs before it starts."""
    if not exhaustive:
        return
    from lrdecode.classifiers import get_classifier
    from lrdecode.model_selection import grid_candidates

    sizes = ", ".join(f"{name} up to {len(grid_candidates(get_classifier(name).grid(None, 10**9)))}"
                      for name in classifiers)
    typer.secho(f"note: --exhaustive fits every grid point x 5 inner folds, for every split ({sizes} points); "
                "at the paper's scale this takes hours per split", err=True, fg=typer.colors.YELLOW)


def _splits(choice: SplitChoice) -> list[str]:
    """both: paper and grouped; all: paper, grouped and twins."""
    if choice == SplitChoice.both:
        return ["paper", "grouped"]
    if choice == SplitChoice.all:
        return ["paper", "grouped", "twins"]
    return [choice.value]


def _describe_features(result: Result) -> None:
    from lrdecode.features import dropped_examples_line

    for name, info in result.data["features"].items():
        line = (f"{name}: {info['labelled_examples']} labelled example(s) of {len(info['examples_per_rule'])} rules "
                f"from {info['runs']} run(s); {len(info['statistics'])} statistic(s) x {info['checkpoints']} "
                f"checkpoint(s) + layer position = {info['features']} features")
        if info["unlabelled_examples"]:
            line += f"; {info['unlabelled_examples']} unlabelled example(s) set aside for `lrdecode predict`"
        typer.echo(line)
        for dropped in info["dropped_statistics"]:
            typer.echo(f"  dropped {dropped['statistic']}: {dropped['reason']}")
        if examples_line := dropped_examples_line(info):
            typer.echo(f"  {examples_line}")


def _show(result: Result) -> None:
    summary: pd.DataFrame = result.summary
    keys = [c for c in ("factor", "measure", "features", "rule_a", "rule_b", "level", "classifier", "split")
            if c in summary]
    table = summary[keys].copy()
    for score, title in (("accuracy", "accuracy"), ("balanced_accuracy", "balanced acc."), ("dprime", "d'")):
        if f"{score}_mean" in summary:
            sem = summary.get(f"{score}_sem")
            table[title] = [f"{m:.3f}" + (f" ± {s:.3f}" if sem is not None and pd.notna(s) else "")
                            for m, s in zip(summary[f"{score}_mean"], sem if sem is not None else [None] * len(summary),
                                            strict=True)]
    typer.echo(table.to_string(index=False))


def _write(result: Result, out: Path) -> None:
    from lrdecode.figures import write_figures

    paths = result.write(out) + write_figures(result, out)
    typer.echo(f"wrote {len(paths)} file(s) to {out}: " + ", ".join(p.name for p in paths))


@app.command()
@friendly_errors
def evaluate(
    data: DataArg,
    out: OutOpt,
    classifier: ClassifiersOpt = None,
    measure: MeasureOpt = None,
    statistic: StatisticOpt = None,
    split: Annotated[SplitChoice, typer.Option(
        "--split", help="paper: the original example-level splits; grouped: whole runs on one side; twins: whole "
        "initialisations (every run of one architecture and model seed) on one side; both (paper, grouped); all "
        "(the three).")
    ] = SplitChoice.all,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    min_metric: MinMetricOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Accuracy, balanced accuracy, d' and confusion matrices of classifiers on measures.

    Mean ± s.e.m. over splits, on the paper's example-level splits and on run-grouped splits.
    """
    from lrdecode.analyses import evaluate_measures

    loaded = _load(data, where, measurement, include_incomplete, min_metric)
    _warn_exhaustive(exhaustive, classifier or ["rf"])
    with reporter(quiet) as bars:
        result = evaluate_measures(loaded, measures=[m.value for m in measure or [Measure.all]], statistics=statistic,
                                   classifiers=classifier or ["rf"], splits=_splits(split), n_splits=splits,
                                   test_fraction=test_fraction, seed=seed, exhaustive=exhaustive, n_jobs=n_jobs,
                                   reporter=bars)
    _describe_features(result)
    _show(result)
    _write(result, out)


@app.command()
@friendly_errors
def generalize(
    data: DataArg,
    out: OutOpt,
    hold_out: Annotated[str, typer.Option(
        "--hold-out", help="Factor to hold out, one level at a time: architecture, curriculum (batch size x "
        "dataset seed), task, or any run column.")] = "architecture",
    classifier: ClassifiersOpt = None,
    measure: OneMeasureOpt = Measure.all,
    statistic: StatisticOpt = None,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    min_metric: MinMetricOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Generalisation: train on every other level of a factor, test on the held-out one."""
    from lrdecode.analyses import held_out

    loaded = _load(data, where, measurement, include_incomplete, min_metric)
    _warn_exhaustive(exhaustive, classifier or ["rf"])
    with reporter(quiet) as bars:
        result = held_out(loaded, factor=hold_out, measure=measure.value, statistics=statistic,
                          classifiers=classifier or ["rf"], seed=seed, exhaustive=exhaustive, n_jobs=n_jobs,
                          reporter=bars)
    _describe_features(result)
    _show(result)
    _write(result, out)


@app.command()
@friendly_errors
def importance(
    data: DataArg,
    out: OutOpt,
    classifier: ClassifierOpt = "rf",
    measure: OneMeasureOpt = Measure.all,
    statistic: StatisticOpt = None,
    split: Annotated[SplitChoice, typer.Option("--split", help="paper, grouped or twins.")] = SplitChoice.paper,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Shuffles per statistic and split.")] = 5,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    min_metric: MinMetricOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Importance of each statistic (Gini summed over the trajectory; permutation).

    Gini importance of the random forest summed over each statistic's trajectory (paper Fig. 3),
    and the accuracy lost when a statistic's whole trajectory is shuffled across test examples.
    """
    from lrdecode.analyses import importance as run_importance

    if split in (SplitChoice.both, SplitChoice.all):
        raise DecodeError("importance takes one split kind", "pass --split paper, grouped or twins")
    loaded = _load(data, where, measurement, include_incomplete, min_metric)
    _warn_exhaustive(exhaustive, [classifier])
    with reporter(quiet) as bars:
        result = run_importance(loaded, measure=measure.value, statistics=statistic, classifier=classifier,
                                split=split.value, n_splits=splits, test_fraction=test_fraction, repeats=repeats,
                                seed=seed, exhaustive=exhaustive, n_jobs=n_jobs, reporter=bars)
    _describe_features(result)
    summary = result.summary
    columns = [c for c in ("statistic", "gini_mean", "gini_sem", "permutation_mean", "permutation_sem")
               if c in summary]
    typer.echo(summary[columns].head(10).to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    accuracy = result.tables["accuracy"].iloc[0]
    typer.echo(f"({classifier} accuracy {accuracy['accuracy_mean']:.3f} ± {accuracy['accuracy_sem']:.3f}; "
               f"top 10 of {len(summary)} shown)")
    _write(result, out)


@app.command()
@friendly_errors
def pairwise(
    data: DataArg,
    out: OutOpt,
    classifier: ClassifiersOpt = None,
    measure: OneMeasureOpt = Measure.all,
    statistic: StatisticOpt = None,
    split: Annotated[SplitChoice, typer.Option("--split", help=SPLIT_HELP)] = SplitChoice.paper,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    min_metric: MinMetricOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Two-way accuracy for every pair of rules (paper Fig. S1)."""
    from lrdecode.analyses import pairwise as run_pairwise

    loaded = _load(data, where, measurement, include_incomplete, min_metric)
    _warn_exhaustive(exhaustive, classifier or ["rf"])
    with reporter(quiet) as bars:
        result = run_pairwise(loaded, measure=measure.value, statistics=statistic, classifiers=classifier or ["rf"],
                              splits=_splits(split), n_splits=splits, test_fraction=test_fraction, seed=seed,
                              exhaustive=exhaustive, n_jobs=n_jobs, reporter=bars)
    _describe_features(result)
    _show(result)
    _write(result, out)


@app.command()
@friendly_errors
def averaged(
    data: DataArg,
    out: OutOpt,
    classifier: ClassifiersOpt = None,
    measure: MeasureOpt = None,
    statistic: StatisticOpt = None,
    split: Annotated[SplitChoice, typer.Option("--split", help=SPLIT_HELP)] = SplitChoice.paper,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    min_metric: MinMetricOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Control: decode from trajectory means, beside the full trajectories."""
    from lrdecode.analyses import trajectory_averaged

    loaded = _load(data, where, measurement, include_incomplete, min_metric)
    _warn_exhaustive(exhaustive, classifier or ["rf"])
    with reporter(quiet) as bars:
        result = trajectory_averaged(loaded, measures=[m.value for m in measure or [Measure.all]],
                                     statistics=statistic, classifiers=classifier or ["rf"], splits=_splits(split),
                                     n_splits=splits, test_fraction=test_fraction, seed=seed, exhaustive=exhaustive,
                                     n_jobs=n_jobs, reporter=bars)
    _describe_features(result)
    _show(result)
    _write(result, out)


# ---------------------------------------------------------------- measurement limits (paper §5, §6)


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


StartOpt = Annotated[StartChoice, typer.Option(
    "--start-per", help="Draw the random start once per run (its layers share the sessions, as an animal's "
    "areas do) or once per example (layer), as the paper's Appendix B.3.1.")]


def _list(text: str | None, option: str, kind: type = str) -> list[Any]:
    """``"0,0.5,1"`` -> [0.0, 0.5, 1.0]; a clear error naming the option otherwise."""
    if text is None:
        return []
    items = [t.strip() for t in text.split(",") if t.strip()]
    try:
        return [kind(t) for t in items]
    except ValueError:
        raise DecodeError(f"cannot read {text!r} ({option})",
                          f"give {kind.__name__} values separated by commas, e.g. {option} 0,0.5,1") from None


def _grid(summary: pd.DataFrame, rows: str, columns: str, panels: list[str]) -> None:
    """Print accuracy mean ± s.e.m. as one rows x columns grid per panel."""
    cell = [f"{m:.2f} ± {s:.2f}" for m, s in zip(summary["accuracy_mean"], summary["accuracy_sem"], strict=True)]
    table = summary.assign(cell=cell)
    panels = [p for p in panels if p in table]
    for key, group in table.groupby(panels, sort=False):
        typer.echo(" / ".join(map(str, key if isinstance(key, tuple) else (key,)))
                   + f" (chance {group['chance'].iloc[0]:.2f}): accuracy, rows {rows}, columns {columns}")
        index = rows if not group.duplicated([rows, columns]).any() else "measurement"  # settings differing in seed
        grid = group.pivot(index=index, columns=columns, values="cell").fillna("")
        typer.echo(grid.to_string())


def _describe_grid(result: Result) -> None:
    """One line for a result of many feature sets (one per measurement setting)."""
    infos = list(result.data["features"].values())
    first = infos[0]
    typer.echo(f"{len(infos)} feature set(s); the first: {first['labelled_examples']} labelled example(s) of "
               f"{len(first['examples_per_rule'])} rules from {first['runs']} run(s), {len(first['statistics'])} "
               f"statistic(s) x {first['checkpoints']} checkpoint(s)")


@app.command()
@friendly_errors
def subsample(
    data: DataArg,
    out: OutOpt,
    period: Annotated[list[int] | None, typer.Option(
        "--period", "-p", min=1, help="Subsample period: checkpoints between samples. Repeatable. "
        "\\[default: 1, 2, 5]")] = None,
    samples: Annotated[list[int] | None, typer.Option(
        "--samples", "-n", min=1, help="Number of samples per trajectory. Repeatable. \\[default: about 10, 20, 30, "
        "50, 75 and 100% of the checkpoints]")] = None,
    start_per: StartOpt = StartChoice.run,
    classifier: ClassifierOpt = "rf",
    measure: MeasureOpt = None,
    statistic: StatisticOpt = None,
    split: Annotated[SplitChoice, typer.Option("--split", help=SPLIT_HELP)] = SplitChoice.both,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    min_metric: MinMetricOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Trajectory subsampling (paper Fig. 4a): accuracy for subsample periods x numbers of samples.

    Samples are taken PERIOD checkpoints apart from a random start, drawn afresh for each split.
    """
    from lrdecode.analyses import trajectory_subsampling

    loaded = _load(data, where, measurement, include_incomplete, min_metric)
    _warn_exhaustive(exhaustive, [classifier])
    with reporter(quiet) as bars:
        result = trajectory_subsampling(loaded, periods=period or [1, 2, 5], sample_counts=samples or None,
                                        measures=[m.value for m in measure or [Measure.all]], statistics=statistic,
                                        classifier=classifier, splits=_splits(split), n_splits=splits,
                                        test_fraction=test_fraction, start_per=start_per.value, seed=seed,
                                        exhaustive=exhaustive, n_jobs=n_jobs, reporter=bars)
    _describe_features(result)
    _grid(result.summary, "period", "n_samples", ["measure", "classifier", "split"])
    if result.settings["infeasible"]:
        typer.echo("not scored (longer than the trajectory): " + ", ".join(
            f"{c['n_samples']} every {c['period']}" for c in result.settings["infeasible"]))
    _write(result, out)


@app.command()
@friendly_errors
def consecutive(
    data: DataArg,
    out: OutOpt,
    classifier: ClassifierOpt = "rf",
    measure: MeasureOpt = None,
    statistic: StatisticOpt = None,
    split: Annotated[SplitChoice, typer.Option("--split", help=SPLIT_HELP)] = SplitChoice.both,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    min_metric: MinMetricOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Consecutive thirds (paper Fig. 4b, S6): train on the early, middle or late third, test on each.

    The same train/test split of examples for every portion, so a test example is never trained on.
    """
    from lrdecode.analyses import consecutive_portions

    loaded = _load(data, where, measurement, include_incomplete, min_metric)
    _warn_exhaustive(exhaustive, [classifier])
    with reporter(quiet) as bars:
        result = consecutive_portions(loaded, measures=[m.value for m in measure or [Measure.all]],
                                      statistics=statistic, classifier=classifier, splits=_splits(split),
                                      n_splits=splits, test_fraction=test_fraction, seed=seed, exhaustive=exhaustive,
                                      n_jobs=n_jobs, reporter=bars)
    _describe_features(result)
    typer.echo("portions (checkpoints): " + "; ".join(f"{name} {c[0]}-{c[-1]}"
                                                      for name, c in result.settings["portions"].items()))
    summary = result.summary.copy()
    for column in ("train_portion", "test_portion"):
        summary[column] = pd.Categorical(summary[column], ["early", "middle", "late"])
    _grid(summary, "train_portion", "test_portion", ["measure", "classifier", "split"])
    _write(result, out)


@app.command("units-noise")
@friendly_errors
def units_noise_command(
    data: DataArg,
    out: OutOpt,
    source: Annotated[UnitSource, typer.Option(
        "--from", help="settings: the measurement settings the data carries (weight, act, grad); units: measure "
        "again from unit-level responses (units.parquet; act, and weight if stored) over --units x --noise.")
    ] = UnitSource.settings,
    units: Annotated[str, typer.Option(
        "--units", help="With --from units: unit counts (200), fractions of the recorded units (0.1) or 'all', "
        "comma-separated.")] = "0.1,0.25,0.5,all",
    noise: Annotated[str, typer.Option(
        "--noise", help="With --from units: noise stds, comma-separated.")] = "0,0.1,0.5,1,2",
    measurement_seed: Annotated[int, typer.Option(
        "--measurement-seed", help="With --from units: seed of the unit draws and the noise.")] = 0,
    rules: Annotated[str | None, typer.Option(
        "--rules", help="Decode only these rules, comma-separated (the paper: fa,ia). \\[default: every rule]")
    ] = None,
    classifier: ClassifierOpt = "rf",
    measure: Annotated[list[Measure] | None, typer.Option(
        "--measure", "-m", help="Measure(s), one heatmap each. Repeatable. \\[default: every measure recorded, "
        "and all]")] = None,
    statistic: StatisticOpt = None,
    split: Annotated[SplitChoice, typer.Option("--split", help=SPLIT_HELP)] = SplitChoice.both,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    min_metric: MinMetricOpt = None,
    select_at: Annotated[SelectAt, typer.Option(
        "--select-at", help="reference: choose hyperparameters once per measure and split at the reference "
        "setting (the ideal instrument) and refit them at every setting; each: choose them anew in every cell "
        "(as many searches as cells).")] = SelectAt.reference,
    quiet: QuietOpt = False,
) -> None:
    """Unit subsampling x measurement noise (paper Fig. 5): an accuracy heatmap per measure."""
    from lrdecode.analyses import units_noise

    loaded = _load(data, where, measurement, include_incomplete, min_metric)
    _warn_exhaustive(exhaustive, [classifier])
    with reporter(quiet) as bars:
        result = units_noise(loaded, source=source.value, units=_list(units, "--units"),
                             noise=_list(noise, "--noise", float), measurement_seed=measurement_seed,
                             rules=_list(rules, "--rules") or None,
                             measures=[m.value for m in measure] if measure else None, statistics=statistic,
                             classifier=classifier, splits=_splits(split), n_splits=splits,
                             test_fraction=test_fraction, seed=seed, exhaustive=exhaustive, n_jobs=n_jobs,
                             select_at=select_at.value, reporter=bars)
    _describe_grid(result)
    if select_at is SelectAt.reference:
        for measure, count in result.settings["examples_non_finite_in_some_setting"].items():
            if count:
                typer.echo(f"{measure}: left out {count} example(s) non-finite in some setting, so that every "
                           f"setting decodes the same examples")
        reference = result.tables["settings"].query("reference").groupby("measure")["measurement"].first()
        print("hyperparameters chosen per measure and split at the reference setting ("
              + ", ".join(f"{m}: {label}" for m, label in reference.items()) + "), refit at every other setting")
    summary = result.summary.sort_values(["units_measured", "noise_std"], ascending=[False, True], kind="stable")
    summary["units"] = pd.Categorical(summary["units"].astype(str), list(dict.fromkeys(summary["units"].astype(str))))
    _grid(summary, "units", "noise_std", ["measure", "classifier", "split"])
    _write(result, out)


@app.command()
@friendly_errors
def plan(
    data: DataArg,
    out: OutOpt,
    units: Annotated[float, typer.Option("--units", help="Units you will record (per area).", show_default=False)],
    sessions: Annotated[int, typer.Option("--sessions", min=1, help="Recording sessions during learning.",
                                          show_default=False)],
    spacing: Annotated[int, typer.Option("--spacing", min=1, help="Checkpoints of the simulation between sessions.",
                                         show_default=False)],
    noise: Annotated[float, typer.Option("--noise", min=0.0, help="Measurement noise std (in the data's units).")
                     ] = 0.0,
    measure: Annotated[Measure, typer.Option("--measure", "-m", help="What you will record.")] = Measure.act,
    surface: Annotated[Surface, typer.Option(
        "--surface", help="Tradeoff surface: accuracy over sessions x units (settings with your noise), sessions x "
        "noise (settings with your units), or none.")] = Surface.units,
    source: Annotated[UnitSource, typer.Option(
        "--from", help="settings: the data's measurement setting nearest to --units and --noise; units: measure "
        "again from unit responses (units.parquet) at exactly --units and --noise (layers with fewer units left "
        "out).")] = UnitSource.settings,
    unit_tolerance: Annotated[float, typer.Option(
        "--unit-tolerance", min=1.0, help="A setting is close when its units are within this factor of --units.")
    ] = 2.0,
    noise_tolerance: Annotated[float, typer.Option(
        "--noise-tolerance", min=0.0, help="... and its noise within this fraction of the larger noise.")] = 0.5,
    start_per: StartOpt = StartChoice.run,
    classifier: ClassifierOpt = "rf",
    statistic: StatisticOpt = None,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    min_metric: MinMetricOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Expected accuracy of a planned experiment, and the tradeoff surface around it.

    Estimated on simulated DATA reduced to the plan: SESSIONS samples SPACING checkpoints apart,
    the data's measurement setting nearest to UNITS units with NOISE (or, with --from units, that
    setting measured again from the unit responses), run-grouped splits (a new animal is a new run).
    """
    from lrdecode.analyses import plan_experiment

    loaded = _load(data, where, measurement, include_incomplete, min_metric)
    _warn_exhaustive(exhaustive, [classifier])
    with reporter(quiet) as bars:
        result = plan_experiment(loaded, n_units=units, sessions=sessions, spacing=spacing, noise_std=noise,
                                 measure=measure.value, statistics=statistic, classifier=classifier, n_splits=splits,
                                 test_fraction=test_fraction, start_per=start_per.value,
                                 unit_tolerance=unit_tolerance, noise_tolerance=noise_tolerance,
                                 surface=surface.value, source=source.value, seed=seed, exhaustive=exhaustive,
                                 n_jobs=n_jobs, reporter=bars)
    _describe_features(result)
    left_out = result.settings["left_out_layers"]
    if left_out:
        typer.echo(f"left out layers with fewer than {units:g} recorded units: "
                   + ", ".join(f"{row['layer']} ({row['units']} units, {row['runs']} runs)" for row in left_out))
    row = result.summary.iloc[0]
    typer.echo(f"measurement setting used: {row['measurement']} ({row['units_measured']:g} units measured, noise "
               f"{row['noise_std']:g}) for the requested {units:g} units, noise {noise:g}")
    typer.echo(f"expected accuracy with {sessions} session(s) {spacing} checkpoint(s) apart: "
               f"{row['accuracy_mean']:.3f} ± {row['accuracy_sem']:.3f} (chance {row['chance']:.3f}; "
               f"{int(row['n_splits'])} run-grouped splits, {classifier})")
    cells = result.tables["surface"]
    if not cells.empty:
        order = ["units_measured", "noise_std"] if surface == Surface.units else ["noise_std", "units_measured"]
        cells = cells.sort_values(order, ascending=[surface == Surface.noise, True], kind="stable")
        cells["measurement"] = pd.Categorical(cells["measurement"], list(dict.fromkeys(cells["measurement"])))
        _grid(cells, "measurement", "sessions", ["measure"])
    _write(result, out)


@app.command()
@friendly_errors
def fit(
    data: DataArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="Model file to write (skops format, e.g. model.skops).")],
    classifier: ClassifierOpt = "rf",
    measure: OneMeasureOpt = Measure.all,
    statistic: StatisticOpt = None,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    min_metric: MinMetricOpt = None,
    quiet: QuietOpt = False,
    match: Annotated[Path | None, typer.Option(
        "--match", help="A recording dataset (from `lrdecode ingest`): train on DATA reduced to its limits (same "
        "number and relative spacing of sessions, unit count, noise, act statistics only), calibrate the "
        "probabilities and store the accuracy to expect. See 'Real recordings' in the README.")] = None,
    match_area: Annotated[str | None, typer.Option(
        "--match-area", help="With --match: match this area only (by default, one model per group of areas that "
        "share unit count and sessions, in one file).")] = None,
    noise: Annotated[float | None, typer.Option(
        "--noise", min=0.0, help="With --match: measurement noise s.d. per response (default: estimated from "
        "repeated stimuli in the recording, else 0 with a warning).")] = None,
    match_span: Annotated[str, typer.Option(
        "--match-span", help="With --match: share of the simulated training the recording covers, START:END "
        "(first session -> START, last -> END).")] = "0:1",
    draws: Annotated[int, typer.Option(
        "--draws", min=1, help="With --match: unit draws per simulated layer (from unit responses).")] = 1,
    calibration: Annotated[str, typer.Option(
        "--calibration", help="With --match: probability calibration, sigmoid or isotonic (needs many runs).")
    ] = "sigmoid",
    splits: Annotated[int, typer.Option(
        "--splits", min=1, help="With --match: run-grouped splits for the expected accuracy.")] = 10,
    scale: Annotated[str, typer.Option(
        "--scale", help="With --match: 'relative' compares activity relative to each area's RMS response at its "
        "first session (any response unit); 'absolute' compares raw values (same units as the simulation).")
    ] = "relative",
) -> None:
    """Fit a decoder on every labelled run and save it (skops model file).

    Hyperparameters are chosen by run-grouped inner cross-validation. With --match RECORDING,
    the decoder is matched to one experiment (see `lrdecode predict`).
    """
    from lrdecode.decoder import fit_decoder
    from lrdecode.features import dropped_examples_line
    from lrdecode.model_files import save_model

    loaded = _load(data, where, measurement, include_incomplete, min_metric)
    _warn_exhaustive(exhaustive, [classifier])
    if match is not None:
        _fit_matched(loaded, match, out, classifier=classifier, statistic=statistic, area=match_area, noise=noise,
                     span=match_span, draws=draws, calibration=calibration, splits=splits, seed=seed,
                     exhaustive=exhaustive, n_jobs=n_jobs, quiet=quiet, measure=measure, scale=scale)
        return
    with reporter(quiet) as bars:
        model = fit_decoder(loaded, classifier=classifier, measure=measure.value, statistics=statistic,
                            exhaustive=exhaustive, seed=seed, n_jobs=n_jobs, reporter=bars)
    info = model.training["data"]
    typer.echo(f"{classifier} on {info['labelled_examples']} example(s) of {len(model.classes)} rules "
               f"({', '.join(model.classes)}), {len(model.layout.observables)} statistic(s) x "
               f"{model.layout.n_checkpoints} checkpoint(s)")
    for dropped in info["dropped_statistics"]:
        typer.echo(f"  dropped {dropped['statistic']}: {dropped['reason']}")
    if examples_line := dropped_examples_line(info):
        typer.echo(f"  {examples_line}")
    typer.echo(f"chosen {model.params} by {model.training['selection_method']}; "
               f"validation accuracy {model.training['validation_accuracy']:.3f}")
    save_model(model, out)
    typer.echo(f"wrote {out}")


@app.command()
@friendly_errors
def predict(
    model_file: Annotated[Path, typer.Argument(help="A model written by `lrdecode fit`.", show_default=False)],
    data: DataArg,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Directory for predictions (CSV).")] = None,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    include_incomplete: IncompleteOpt = False,
    min_metric: MinMetricOpt = None,
    animal: Annotated[list[str] | None, typer.Option(
        "--animal", help="With a matched model: ANIMAL=RUN1,RUN2 declares recordings (runs) of one animal, whose "
        "areas are combined into one verdict (repeatable; default: one animal per run).")] = None,
) -> None:
    """Predict the learning rule of every run in the data, with probabilities.

    A run's probabilities are the mean over its layers (and measurement settings). A model
    fitted with --match predicts per recording and area, with calibrated probabilities, the
    accuracy to expect and a novelty check (areas unlike every simulated network are marked),
    combines each animal's areas into one verdict, and refuses data that does not match its
    limits. Many recordings can be given at once (DATA is repeatable).
    """
    from lrdecode.model_files import load_models
    from lrdecode.results import atomic_write

    models = load_models(model_file)
    loaded = _load(data, where, measurement, include_incomplete, min_metric)
    if all("match" in m.training for m in models):
        _predict_matched(models, loaded, out, _animals(animal or []))
        return
    model = models[0]
    features = model.features(loaded)
    for _, row in features.unusable.iterrows():
        typer.secho(f"note: skipped run {row['run_id']} layer {row['layer']} ({row['measurement']}): {row['reason']}",
                    err=True, fg=typer.colors.YELLOW)
    if len(features) == 0:
        raise DecodeError("no example of the data can be predicted",
                          "every example misses a statistic the model needs; see the notes above")
    examples = model.predict_examples(features)
    runs = model.predict_runs(features)
    typer.echo(runs.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    known = runs["learning_rule"].notna()
    if known.any():
        correct = (runs.loc[known, "learning_rule"] == runs.loc[known, "predicted"]).mean()
        typer.echo(f"{known.sum()} run(s) have a known rule: {correct:.1%} named correctly")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, table in (("predictions_runs", runs), ("predictions_examples", examples)):
            atomic_write(out / f"{name}.csv", lambda f, t=table: f.write(t.to_csv(index=False).encode()))
        typer.echo(f"wrote {out / 'predictions_runs.csv'} and {out / 'predictions_examples.csv'}")


# ---------------------------------------------------------------- real recordings


class RecordingFormat(StrEnum):
    nwb = "nwb"
    npz = "npz"
    csv = "csv"


POSITION_ALIASES = {"late": "deep"}


def _positions(items: list[str]) -> str | dict[str, str]:
    """``["deep"]`` -> "deep"; ``["V1=early", "V4=deep"]`` -> per area ("late" is taken as "deep")."""
    def one(value: str) -> str:
        value = value.strip().lower()
        return POSITION_ALIASES.get(value, value)

    if len(items) == 1 and "=" not in items[0]:
        return one(items[0])
    mapping = {}
    for item in items:
        area, sep, value = item.partition("=")
        if not sep or not area.strip():
            raise DecodeError(f"cannot read --position {item!r}",
                              "give one position for every area (--position deep) or AREA=POSITION per area")
        mapping[area.strip()] = one(value)
    return mapping


def _recording_files(paths: list[Path]) -> list[Path]:
    """Files as given; a directory stands for the .nwb files in it (one per session)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(path.glob("*.nwb"))
            if not inside:
                raise DecodeError(f"{path} is a directory without .nwb files",
                                  "give recording files (.nwb, .npz, .csv)")
            files += inside
        else:
            files.append(path)
    return files


@app.command()
@friendly_errors
def ingest(
    recordings: Annotated[list[Path], typer.Argument(
        help="Recording file(s) of one animal: NWB files (one per session, or a directory of them), one .npz or "
        "one .csv. Layouts: see 'Real recordings' in the README.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset directory to write (shared_schema format).")],
    position: Annotated[list[str], typer.Option(
        "--position", "-p", help="Depth position of the recorded area(s) in the circuit: early, middle or deep "
        "(late = deep); or AREA=POSITION for each area (repeatable).")],
    format: Annotated[RecordingFormat | None, typer.Option(
        "--format", "-f", help="Recording format (default: from the extension: .nwb, .npz, .csv).")] = None,
    area: Annotated[str | None, typer.Option(
        "--area", help="Area (layer) name for every unit (default: the file's areas, else its name).")] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Run id (default: the first argument's name).")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Task the animal learned (runs.parquet task).")] = None,
    common_units: Annotated[bool, typer.Option(
        "--common-units", help="Keep only units present in every session instead of refusing the recording.")
    ] = False,
    drop_nan_units: Annotated[bool, typer.Option(
        "--drop-nan-units/--refuse-nan-units", help="Drop units with missing (NaN) responses (with a warning), "
        "or refuse the recording.")] = True,
    nwb_column: Annotated[str, typer.Option(
        "--nwb-column", help="NWB: the Units column holding each unit's response to each stimulus.")
    ] = "stimulus_responses",
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing dataset at --out.")] = False,
) -> None:
    """Turn a recording (unit responses x stimuli at several sessions) into a dataset to decode.

    One run (source=recording, learning_rule empty): each area is a layer at the given depth
    position, each session a checkpoint (epoch = session time), with the 21 act statistics of
    the shared_schema reference and the unit responses (units.parquet). The recording is
    checked before anything is written, and the dataset is written atomically.
    """
    from lrdecode.recordings import RecordingError, read_recording, recording_to_dataset
    from lrdecode.recordings.ingest import run_id_from

    if out.exists() and not overwrite:
        raise DecodeError(f"{out} already exists", "choose another --out, or pass --overwrite to replace it")
    files = _recording_files(recordings)
    try:
        recording = read_recording(files, format=format.value if format else None, area=area,
                                   common_units=common_units, nwb_column=nwb_column, drop_nan_units=drop_nan_units)
        run = run_id_from(run_id or recordings[0].stem)
        dataset = recording_to_dataset(recording, run_id=run, position=_positions(position), task=task)
    except RecordingError as error:
        raise DecodeError(str(error)) from None
    dataset.write(out, overwrite=overwrite, producer=("lrdecode", __version__),
                  description=f"Recording ingested from {recording.source}")
    times = ", ".join(f"{t:g}" for t in recording.session_times)
    when = (f"(no time column: session numbers {times})" if recording.time_unit == "sessions"
            else f"at {recording.time_unit} {times}")
    typer.echo(f"read {recording.source}: {recording.n_sessions} sessions {when}; "
               f"{recording.responses.shape[1]} stimuli")
    layers = dataset.observables.drop_duplicates("layer")
    for _, row in layers.iterrows():
        typer.echo(f"  area {row['layer']}: {row['n_units']} units, position {row['layer_position']}")
    typer.echo(f"wrote {out}: run {run} (source=recording, learning_rule empty), 21 act statistics per area and "
               f"session, unit responses in units.parquet")


@app.command("example-recording")
@friendly_errors
def example_recording(
    directory: Annotated[Path, typer.Argument(help="Directory to write the example files into.",
                                              show_default=False)],
    rule: Annotated[str, typer.Option("--rule", help="Toy rule of the recorded animal: sgdm, adam, fa or ia.")
                    ] = "fa",
    sessions: Annotated[str, typer.Option("--sessions", help="Session days, comma-separated, within 0..20.")
                        ] = "0,3,9,14,20",
    units: Annotated[int, typer.Option("--units", min=2, max=50, help="Units recorded (of the toy layer's 50).")
                     ] = 40,
    noise: Annotated[float, typer.Option("--noise", min=0.0, help="Noise s.d. added to every recorded response.")
                     ] = 0.2,
    seed: SeedOpt = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Write into a non-empty directory.")] = False,
) -> None:
    """Write example recordings (.npz, .csv, NWB) and toy simulations to match them to.

    A toy population model (lrdecode.recordings.examples: each rule changes the response
    distribution in its own way; a toy, not a model of any real rule) gives simulated/
    (4 rules x 6 runs x 3 layers, 21 checkpoints, unit responses) and the recording of one
    more toy animal trained by --rule: recording.npz, recording.csv and recording-nwb/ (one
    NWB file per session; skipped, with a note, without pynwb). Then: ingest, fit --match,
    predict (see the README). Nothing is half-written: on failure DIRECTORY stays as it was.
    """
    from lrdecode.recordings import RecordingError
    from lrdecode.recordings.examples import TOY_RULES, toy_session_days, write_toy_example

    if rule not in TOY_RULES:
        raise DecodeError(f"unknown toy rule {rule!r}", f"use one of {', '.join(TOY_RULES)}")
    try:
        days = [float(d) for d in sessions.split(",")]
    except ValueError:
        raise DecodeError(f"cannot read --sessions {sessions!r}", "give days separated by commas, e.g. 0,3,9,14,20"
                          ) from None
    try:  # only the days are checked here: a RecordingError below is not about them
        toy_session_days(days)
    except ValueError as error:
        raise DecodeError(str(error), "give increasing days within 0..20") from None
    if directory.exists() and any(directory.iterdir()) and not overwrite:
        raise DecodeError(f"{directory} is not empty", "choose an empty directory, or pass --overwrite")
    try:
        written = write_toy_example(directory, rule=rule, sessions=days, recorded_units=units, noise=noise, seed=seed)
    except RecordingError as error:
        raise DecodeError(str(error)) from None
    for kind, paths in written.items():
        shown = paths[0] if len(paths) == 1 else f"{paths[0].parent} ({len(paths)} files)"
        typer.echo(f"{kind:9} {shown}")
    if "nwb" not in written:
        typer.echo(f"NWB files skipped ({directory / 'recording-nwb'}): they need pynwb, "
                   f"pip install './packages/lrdecode[nwb]' (then rerun with --overwrite)")


def _fit_matched(loaded: LoadedData, match: Path, out: Path, *, classifier: str, statistic: list[str] | None,
                 area: str | None, noise: float | None, span: str, draws: int, calibration: str, splits: int,
                 seed: int, exhaustive: bool, n_jobs: int, quiet: bool, measure: Measure, scale: str) -> None:
    """`fit --match`: train on DATA reduced to a recording's limits, calibrate, save, and say how it matched."""
    from lrdecode.matching import fit_matched_areas
    from lrdecode.model_files import save_model

    if measure not in (Measure.all, Measure.act):
        raise DecodeError(f"a recording has act statistics only, not {measure.value}",
                          "leave out --measure (or pass --measure act) with --match")
    start, sep, end = span.partition(":")
    try:
        bounds = (float(start), float(end))
    except ValueError:
        raise DecodeError(f"cannot read --match-span {span!r}", "write START:END, e.g. 0:1 or 0:0.5") from None
    if not sep:
        raise DecodeError(f"cannot read --match-span {span!r}", "write START:END, e.g. 0:1 or 0:0.5")
    with reporter(quiet) as bars:
        models = fit_matched_areas(loaded, match, classifier=classifier, area=area, noise=noise, span=bounds,
                                   statistics=statistic, draws=draws, calibration=calibration, n_splits=splits,
                                   exhaustive=exhaustive, seed=seed, n_jobs=n_jobs, scale=scale, reporter=bars)
    if len(models) > 1:
        typer.echo(f"{len(models)} groups of areas with different limits: one matched model each, in one file")
    for model in models:
        _describe_match(model, classifier)
    save_model(models, out)
    typer.echo(f"wrote {out}")


def _describe_match(model: Any, classifier: str) -> None:
    """How one decoder was matched to its areas, and the accuracy to expect."""
    m, e, info = model.training["match"], model.training["expected_accuracy"], model.training["data"]
    positions = ", ".join(f"{p:.2f}" for p in m["recording_positions"])
    typer.echo(f"matched to {m['recording']} ({', '.join(m['areas'])}): {len(m['recording_positions'])} sessions at "
               f"relative times {positions} -> checkpoints {m['checkpoints']} (max spacing error "
               f"{m['max_spacing_error']:.3f})")
    used = m["units_used"]
    units_text = f"{used['min']:g}" if used["min"] == used["max"] else f"{used['min']:g}..{used['max']:g}"
    typer.echo(f"  units {m['n_units']} (simulated: {units_text}, {m['units_from']}); noise s.d. "
               f"{m['noise_std']:.4g} ({m['noise_source']}); {len(model.layout.observables)} act statistics")
    if "noise_relative" in m:
        typer.echo(f"  scale: {m['scale']} (noise {m['noise_relative']:.3g} of the noise-free RMS response)")
    if m.get("left_out_layers"):
        shown = ", ".join(f"{row['layer']} ({row['units']} units, {row['runs']} runs)" for row in m["left_out_layers"])
        typer.echo(f"  left out simulated layers with fewer units than the recording's {m['n_units']}: {shown}")
    typer.echo(f"{classifier} on {info['labelled_examples']} example(s) of {len(model.classes)} rules "
               f"({', '.join(model.classes)}); chosen {model.params}")
    for dropped in info["dropped_statistics"]:
        typer.echo(f"  dropped {dropped['statistic']}: {dropped['reason']}")
    typer.echo(f"expected accuracy under these limits: {e['mean']:.3f} ± {e['sem']:.3f} (run-grouped, "
               f"{e['n_splits']} splits; chance {e['chance']:.3f})")
    novelty = model.training.get("novelty")
    calibration = model.training["calibration"]
    typer.echo(f"probabilities calibrated: {calibration['method']}, {calibration['folds']} run-grouped folds"
               + (f"; novelty threshold {novelty['threshold']:.3g} ({novelty['held_out_flagged']:.1%} of held-out "
                  f"simulated examples above it)" if novelty else ""))


def _animals(items: list[str]) -> dict[str, str]:
    """``["mouse1=rec_a,rec_b"]`` -> {run id: animal}."""
    animals: dict[str, str] = {}
    for item in items:
        name, sep, runs = item.partition("=")
        named = list(dict.fromkeys(r.strip() for r in runs.split(",") if r.strip()))
        if not sep or not name.strip() or not named:
            raise DecodeError(f"cannot read --animal {item!r}",
                              "write ANIMAL=RUN1,RUN2 (the run ids of its recordings)")
        for run in named:
            if run in animals:
                raise DecodeError(f"run {run} is given to two animals (--animal)", "name each run once")
            animals[run] = name.strip()
    return animals


def _predict_matched(models: list[Any], loaded: LoadedData, out: Path | None, animals: dict[str, str]) -> None:
    """`predict` with matched models: per area and per animal, calibrated, with the expected accuracy."""
    import json

    from lrdecode.matching import predict_matched
    from lrdecode.results import _jsonable, atomic_write

    runs = sorted(set(loaded.trajectories.examples["run_id"].astype(str)))
    unknown = sorted(set(animals) - set(runs))
    if unknown:
        raise DecodeError(f"--animal names run(s) not in the data: {', '.join(unknown)}",
                          f"use run ids of the data: {', '.join(runs)}")
    clash = sorted(a for a in set(animals.values()) if a in runs and a not in animals)
    if clash:
        raise DecodeError(f"animal name {clash[0]} is also the run id of a recording not given to it (--animal)",
                          f"name the animal otherwise, or give it that run too ({clash[0]}={clash[0]},...)")
    areas, verdicts = predict_matched(models, loaded, animals=animals)
    probabilities = [c for c in areas.columns if c.startswith("p_")]
    shown = areas[["animal", "area", "n_units", "sessions", "predicted", *probabilities, "novelty_score"]].copy()
    shown["note"] = ["" if ok else "unlike every simulated network" for ok in areas["in_distribution"]]
    typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for _, row in verdicts.iterrows():
        line = (f"animal {row['animal']}: {row['predicted']} (p {row['probability']:.3f}) from "
                f"{row['areas_used']} of {row['areas']} area(s)")
        if not row["in_distribution"]:
            line += " -- every area is unlike every simulated network: do not trust this verdict"
        elif row["areas_used"] < row["areas"]:
            line += " (areas unlike every simulated network left out)"
        typer.echo(line)
    for _, row in areas[~areas["in_distribution"]].iterrows():
        typer.secho(f"warning: {row['animal']} area {row['area']} is unlike every simulated network (novelty score "
                    f"{row['novelty_score']:.3g}, threshold {row['novelty_threshold']:.3g}); its probabilities are "
                    f"shown but should not be trusted", err=True, fg=typer.colors.YELLOW)
    calibration = models[0].training["calibration"]
    expected = "; ".join(
        (f"{', '.join(m.training['match']['areas'])} " if len(models) > 1 else "")
        + f"{e['mean']:.3f} ± {e['sem']:.3f} (run-grouped, {e['n_splits']} splits; chance {e['chance']:.3f})"
        for m in models for e in [m.training["expected_accuracy"]])
    typer.echo(f"probabilities calibrated ({calibration['method']}, {calibration['folds']} run-grouped folds); "
               f"expected accuracy under these limits, per area: {expected}; an animal's verdict multiplies its "
               f"areas' likelihoods, assuming them independent given the rule")
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    report = {"calibration": calibration, "expected_accuracy": [m.training["expected_accuracy"] for m in models],
              "match": [m.training["match"] for m in models], "novelty": [m.training.get("novelty") for m in models],
              "classifier": models[0].classifier, "classes": list(models[0].classes),
              "combination": "posterior ∝ prior x Π over in-distribution areas of (calibrated p / prior); assumes "
                             "areas independent given the rule",
              "areas": areas.to_dict(orient="records"), "animals": verdicts.to_dict(orient="records")}
    for name, table in (("predictions_areas", areas), ("predictions_animals", verdicts)):
        atomic_write(out / f"{name}.csv", lambda f, t=table: f.write(t.to_csv(index=False).encode()))
    atomic_write(out / "predictions.json",
                 lambda f: f.write(json.dumps(_jsonable(report), indent=2, allow_nan=False).encode()))
    typer.echo(f"wrote {out / 'predictions_areas.csv'}, {out / 'predictions_animals.csv'} and "
               f"{out / 'predictions.json'}")


# ---------------------------------------------------------------- end of real recordings


@app.command()
@friendly_errors
def report(
    results: Annotated[list[Path], typer.Argument(
        help="Result files (.json written by the analyses) or directories searched for them.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    title: Annotated[str, typer.Option("--title", help="Title of the page.")] = "Learning-rule decoding report",
) -> None:
    """One self-contained HTML page (figures embedded) of every analysis in RESULTS."""
    from lrdecode.report import find_results, write_report

    found = find_results(results)
    path = write_report(found, out, title=title)
    typer.echo(f"report of {len(found)} result(s): {path.resolve()}")


@app.command()
def classifiers() -> None:
    """List the classifiers and their default model selection."""
    from lrdecode.classifiers import CLASSIFIERS

    for spec in CLASSIFIERS.values():
        extra = " (needs: pip install 'lrdecode[conv1d]')" if spec.extra else ""
        typer.echo(f"{spec.name:8} {spec.label}{extra}\n         default selection: {spec.selection}")


@app.callback(invoke_without_command=True)
def _version(version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False) -> None:
    if version:
        typer.echo(f"lrdecode {__version__}")
        raise typer.Exit()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
