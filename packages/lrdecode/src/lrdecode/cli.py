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


class SplitChoice(StrEnum):
    paper = "paper"
    grouped = "grouped"
    both = "both"


DataArg = Annotated[list[Path], typer.Argument(
    help="Dataset directories in the shared_schema format; several are decoded as one.", show_default=False)]
MeasureOpt = Annotated[list[Measure] | None, typer.Option(
    "--measure", "-m", help="Observable measure(s) to decode from; repeat for a per-measure analysis. "
    "[default: all]")]
OneMeasureOpt = Annotated[Measure, typer.Option("--measure", "-m", help="Observable measure to decode from.")]
StatisticOpt = Annotated[list[str] | None, typer.Option(
    "--statistic", "-s", help="Keep only these statistics: an observable (act.abs.median, actabs_median) or a "
    "statistic (median = every function of it). Repeatable.")]
WhereOpt = Annotated[list[str] | None, typer.Option(
    "--where", "-w", help="Keep runs whose column matches: COLUMN=VALUE or COLUMN=V1,V2 (any run column: "
    "task, architecture, learning_rule, batch_size, ...; 'null' matches missing). Repeatable.")]
MeasurementOpt = Annotated[list[str] | None, typer.Option(
    "--measurement", help="Keep only these measurement settings (e.g. all, 'units=0.1,noise=0.5'). "
    "[default: every setting]")]
ClassifiersOpt = Annotated[list[str] | None, typer.Option(
    "--classifier", "-c", help="Classifier(s): rf|svm|conv1d|logreg|hgb (see `lrdecode classifiers`). "
    "Repeatable. [default: rf]")]
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
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


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
    """Progress bars on stderr (rich), one per configuration (its splits, or one fit)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True))
        self.task: Any = None

    def start(self, label: str, total: int) -> None:
        if self.task is None:
            self.progress.start()
        self.task = self.progress.add_task(label, total=total)

    def advance(self, step: int = 1) -> None:
        self.progress.advance(self.task, step)

    def finish(self) -> None:
        pass

    def close(self) -> None:
        if self.task is not None:
            self.progress.stop()


@contextmanager
def reporter(quiet: bool) -> Iterator[Reporter]:
    from lrdecode.progress import SILENT

    if quiet or not sys.stderr.isatty():
        yield SILENT
        return
    bars = RichReporter()
    try:
        yield bars
    finally:
        bars.close()


def _load(data: list[Path], where: list[str] | None, measurement: list[str] | None,
          include_incomplete: bool) -> LoadedData:
    from lrdecode.data import load, parse_where

    loaded = load(data, where=parse_where(where or []), measurements=measurement or None,
                  include_incomplete=include_incomplete)
    if len(loaded.excluded):
        reasons = loaded.excluded["reason"].value_counts()
        typer.secho(f"note: left out {len(loaded.excluded)} run(s) that did not complete ("
                    + ", ".join(f"{n} {r}" for r, n in reasons.items()) + "); --include-incomplete keeps them",
                    err=True, fg=typer.colors.YELLOW)
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
    return ["paper", "grouped"] if choice == SplitChoice.both else [choice.value]


def _describe_features(result: Result) -> None:
    for name, info in result.data["features"].items():
        line = (f"{name}: {info['labelled_examples']} labelled example(s) of {len(info['examples_per_rule'])} rules "
                f"from {info['runs']} run(s); {len(info['statistics'])} statistic(s) x {info['checkpoints']} "
                f"checkpoint(s) + layer position = {info['features']} features")
        if info["unlabelled_examples"]:
            line += f"; {info['unlabelled_examples']} unlabelled example(s) set aside for `lrdecode predict`"
        typer.echo(line)
        for dropped in info["dropped_statistics"]:
            typer.echo(f"  dropped {dropped['statistic']}: {dropped['reason']}")


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
        "--split", help="paper: the original example-level splits; grouped: whole runs on one side; both.")
    ] = SplitChoice.both,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Accuracy, balanced accuracy, d' and confusion matrices of classifiers on measures.

    Mean ± s.e.m. over splits, on the paper's example-level splits and on run-grouped splits.
    """
    from lrdecode.analyses import evaluate_measures

    loaded = _load(data, where, measurement, include_incomplete)
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
    quiet: QuietOpt = False,
) -> None:
    """Generalisation: train on every other level of a factor, test on the held-out one."""
    from lrdecode.analyses import held_out

    loaded = _load(data, where, measurement, include_incomplete)
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
    split: Annotated[SplitChoice, typer.Option("--split", help="paper or grouped.")] = SplitChoice.paper,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Shuffles per statistic and split.")] = 5,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Importance of each statistic (Gini summed over the trajectory; permutation).

    Gini importance of the random forest summed over each statistic's trajectory (paper Fig. 3),
    and the accuracy lost when a statistic's whole trajectory is shuffled across test examples.
    """
    from lrdecode.analyses import importance as run_importance

    if split == SplitChoice.both:
        raise DecodeError("importance takes one split kind", "pass --split paper or --split grouped")
    loaded = _load(data, where, measurement, include_incomplete)
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
    split: Annotated[SplitChoice, typer.Option("--split", help="paper, grouped or both.")] = SplitChoice.paper,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Two-way accuracy for every pair of rules (paper Fig. S1)."""
    from lrdecode.analyses import pairwise as run_pairwise

    loaded = _load(data, where, measurement, include_incomplete)
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
    split: Annotated[SplitChoice, typer.Option("--split", help="paper, grouped or both.")] = SplitChoice.paper,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Control: decode from trajectory means, beside the full trajectories."""
    from lrdecode.analyses import trajectory_averaged

    loaded = _load(data, where, measurement, include_incomplete)
    _warn_exhaustive(exhaustive, classifier or ["rf"])
    with reporter(quiet) as bars:
        result = trajectory_averaged(loaded, measures=[m.value for m in measure or [Measure.all]],
                                     statistics=statistic, classifiers=classifier or ["rf"], splits=_splits(split),
                                     n_splits=splits, test_fraction=test_fraction, seed=seed, exhaustive=exhaustive,
                                     n_jobs=n_jobs, reporter=bars)
    _describe_features(result)
    _show(result)
    _write(result, out)


# ---------------------------------------------------------------- measurement limits (paper §5, §6; DESIGN §8)


class StartChoice(StrEnum):
    run = "run"
    example = "example"


class UnitSource(StrEnum):
    settings = "settings"
    units = "units"


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
        "[default: 1, 2, 5]")] = None,
    samples: Annotated[list[int] | None, typer.Option(
        "--samples", "-n", min=1, help="Number of samples per trajectory. Repeatable. [default: about 10, 20, 30, "
        "50, 75 and 100% of the checkpoints]")] = None,
    start_per: StartOpt = StartChoice.run,
    classifier: ClassifierOpt = "rf",
    measure: MeasureOpt = None,
    statistic: StatisticOpt = None,
    split: Annotated[SplitChoice, typer.Option("--split", help="paper, grouped or both.")] = SplitChoice.both,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Trajectory subsampling (paper Fig. 4a): accuracy for subsample periods x numbers of samples.

    Samples are taken PERIOD checkpoints apart from a random start, drawn afresh for each split.
    """
    from lrdecode.analyses import trajectory_subsampling

    loaded = _load(data, where, measurement, include_incomplete)
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
    split: Annotated[SplitChoice, typer.Option("--split", help="paper, grouped or both.")] = SplitChoice.both,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Consecutive thirds (paper Fig. 4b, S6): train on the early, middle or late third, test on each.

    The same train/test split of examples for every portion, so a test example is never trained on.
    """
    from lrdecode.analyses import consecutive_portions

    loaded = _load(data, where, measurement, include_incomplete)
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
        "--rules", help="Decode only these rules, comma-separated (the paper: fa,ia). [default: every rule]")
    ] = None,
    classifier: ClassifierOpt = "rf",
    measure: Annotated[list[Measure] | None, typer.Option(
        "--measure", "-m", help="Measure(s), one heatmap each. Repeatable. [default: every measure recorded, "
        "and all]")] = None,
    statistic: StatisticOpt = None,
    split: Annotated[SplitChoice, typer.Option("--split", help="paper, grouped or both.")] = SplitChoice.both,
    where: WhereOpt = None,
    measurement: MeasurementOpt = None,
    splits: SplitsOpt = 10,
    test_fraction: TestFractionOpt = 0.25,
    seed: SeedOpt = 0,
    exhaustive: ExhaustiveOpt = False,
    n_jobs: JobsOpt = 1,
    include_incomplete: IncompleteOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Unit subsampling x measurement noise (paper Fig. 5): an accuracy heatmap per measure."""
    from lrdecode.analyses import units_noise

    loaded = _load(data, where, measurement, include_incomplete)
    _warn_exhaustive(exhaustive, [classifier])
    with reporter(quiet) as bars:
        result = units_noise(loaded, source=source.value, units=_list(units, "--units"),
                             noise=_list(noise, "--noise", float), measurement_seed=measurement_seed,
                             rules=_list(rules, "--rules") or None,
                             measures=[m.value for m in measure] if measure else None, statistics=statistic,
                             classifier=classifier, splits=_splits(split), n_splits=splits,
                             test_fraction=test_fraction, seed=seed, exhaustive=exhaustive, n_jobs=n_jobs,
                             reporter=bars)
    _describe_grid(result)
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
    quiet: QuietOpt = False,
) -> None:
    """Expected accuracy of a planned experiment, and the tradeoff surface around it.

    Estimated on simulated DATA reduced to the plan: SESSIONS samples SPACING checkpoints apart,
    the data's measurement setting nearest to UNITS units with NOISE, run-grouped splits (a new
    animal is a new run).
    """
    from lrdecode.analyses import plan_experiment

    loaded = _load(data, where, measurement, include_incomplete)
    _warn_exhaustive(exhaustive, [classifier])
    with reporter(quiet) as bars:
        result = plan_experiment(loaded, n_units=units, sessions=sessions, spacing=spacing, noise_std=noise,
                                 measure=measure.value, statistics=statistic, classifier=classifier, n_splits=splits,
                                 test_fraction=test_fraction, start_per=start_per.value,
                                 unit_tolerance=unit_tolerance, noise_tolerance=noise_tolerance,
                                 surface=surface.value, seed=seed, exhaustive=exhaustive, n_jobs=n_jobs,
                                 reporter=bars)
    _describe_features(result)
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
    quiet: QuietOpt = False,
) -> None:
    """Fit a decoder on every labelled run and save it (skops model file).

    Hyperparameters are chosen by run-grouped inner cross-validation.
    """
    from lrdecode.decoder import fit_decoder
    from lrdecode.model_files import save_model

    loaded = _load(data, where, measurement, include_incomplete)
    _warn_exhaustive(exhaustive, [classifier])
    with reporter(quiet) as bars:
        model = fit_decoder(loaded, classifier=classifier, measure=measure.value, statistics=statistic,
                            exhaustive=exhaustive, seed=seed, n_jobs=n_jobs, reporter=bars)
    info = model.training["data"]
    typer.echo(f"{classifier} on {info['labelled_examples']} example(s) of {len(model.classes)} rules "
               f"({', '.join(model.classes)}), {len(model.layout.observables)} statistic(s) x "
               f"{model.layout.n_checkpoints} checkpoint(s)")
    for dropped in info["dropped_statistics"]:
        typer.echo(f"  dropped {dropped['statistic']}: {dropped['reason']}")
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
) -> None:
    """Predict the learning rule of every run in the data, with probabilities.

    A run's probabilities are the mean over its layers (and measurement settings).
    """
    from lrdecode.model_files import load_model
    from lrdecode.results import atomic_write

    model = load_model(model_file)
    loaded = _load(data, where, measurement, include_incomplete)
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
