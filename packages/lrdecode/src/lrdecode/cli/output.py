"""What every command shares around its work: clear errors, progress, loading the data with
notes on what was left out, and showing and writing a result."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import typer

from lrdecode import __version__
from lrdecode.errors import DecodeError

if TYPE_CHECKING:
    from lrdecode.io.data import LoadedData
    from lrdecode.io.results import Result
    from lrdecode.progress import Reporter


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


def load_data(data: list[Path], where: list[str] | None, measurement: list[str] | None,
              include_incomplete: bool, min_metric: float | None = None) -> LoadedData:
    from lrdecode.io.data import load, parse_where

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


def warn_exhaustive(exhaustive: bool, classifiers: list[str]) -> None:
    """Say what --exhaustive costs before it starts."""
    if not exhaustive:
        return
    from lrdecode.classifiers import get_classifier
    from lrdecode.decoding.model_selection import grid_candidates

    sizes = ", ".join(f"{name} up to {len(grid_candidates(get_classifier(name).grid(None, 10**9)))}"
                      for name in classifiers)
    typer.secho(f"note: --exhaustive fits every grid point x 5 inner folds, for every split ({sizes} points); "
                "at the paper's scale this takes hours per split", err=True, fg=typer.colors.YELLOW)


def describe_features(result: Result) -> None:
    from lrdecode.decoding.features import dropped_examples_line

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


def describe_grid(result: Result) -> None:
    """One line for a result of many feature sets (one per measurement setting)."""
    infos = list(result.data["features"].values())
    first = infos[0]
    typer.echo(f"{len(infos)} feature set(s); the first: {first['labelled_examples']} labelled example(s) of "
               f"{len(first['examples_per_rule'])} rules from {first['runs']} run(s), {len(first['statistics'])} "
               f"statistic(s) x {first['checkpoints']} checkpoint(s)")


def show_scores(result: Result) -> None:
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


def show_grid(summary: pd.DataFrame, rows: str, columns: str, panels: list[str]) -> None:
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


def write_result(result: Result, out: Path) -> None:
    from lrdecode.reporting.figures import write_figures

    paths = result.write(out) + write_figures(result, out)
    typer.echo(f"wrote {len(paths)} file(s) to {out}: " + ", ".join(p.name for p in paths))
