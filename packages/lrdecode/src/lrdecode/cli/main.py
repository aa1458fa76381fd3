"""`lrdecode`: name the learning rule from observable trajectories, and run the paper's analyses.

The commands, in the order `lrdecode --help` lists them: one per analysis (generated from
`lrdecode.cli.analyses.COMMANDS`), then fit and predict (`lrdecode.cli.models`), ingest and
example-recording (`lrdecode.cli.recordings`), report and classifiers (below)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lrdecode import __version__
from lrdecode.cli import models, recordings
from lrdecode.cli.analyses import COMMANDS
from lrdecode.cli.output import friendly_errors

app = typer.Typer(
    help="Name the learning rule that trained a network (or a circuit) from the trajectories of its "
    "observables (weights, activations, layer-wise activity changes), and run the analyses of "
    "Nayebi et al. 2020. Data: shared_schema datasets (simulated or recorded).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def report(
    results: Annotated[list[Path], typer.Argument(
        help="Result files (.json written by the analyses) or directories searched for them.", show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path("report.html"),
    title: Annotated[str, typer.Option("--title", help="Title of the page.")] = "Learning-rule decoding report",
) -> None:
    """One self-contained HTML page (figures embedded) of every analysis in RESULTS."""
    from lrdecode.reporting.report import find_results, write_report

    found = find_results(results)
    path = write_report(found, out, title=title)
    typer.echo(f"report of {len(found)} result(s): {path.resolve()}")


def classifiers() -> None:
    """List the classifiers and their default model selection."""
    from lrdecode.classifiers import CLASSIFIERS

    for spec in CLASSIFIERS.values():
        extra = " (needs: pip install 'lrdecode[conv1d]')" if spec.extra else ""
        typer.echo(f"{spec.name:8} {spec.label}{extra}\n         default selection: {spec.selection}")


for command in COMMANDS:
    app.command(command.name)(friendly_errors(command.function()))
app.command("fit")(friendly_errors(models.fit))
app.command("predict")(friendly_errors(models.predict))
app.command("ingest")(friendly_errors(recordings.ingest))
app.command("example-recording")(friendly_errors(recordings.example_recording))
app.command("report")(friendly_errors(report))
app.command("classifiers")(classifiers)


@app.callback(invoke_without_command=True)
def _version(version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False) -> None:
    if version:
        typer.echo(f"lrdecode {__version__}")
        raise typer.Exit()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
