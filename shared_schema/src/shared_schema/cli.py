"""`shared-schema`: validate, describe, and convert lr-observables datasets."""

from __future__ import annotations

import functools
import json
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from shared_schema.dataset import DatasetWarning, read_dataset
from shared_schema.errors import FormatError
from shared_schema.names import OBSERVABLES
from shared_schema.tables import FORMAT_VERSION
from shared_schema.validate import validate_dataset
from shared_schema.version import __version__

app = typer.Typer(
    help="Validate, describe and convert lr-observables datasets (learning-rule observable "
    "trajectories, format v1).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _fail(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn format and file errors into one clear message and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DatasetWarning)
                return command(*args, **kwargs)
        except (FormatError, FileExistsError, FileNotFoundError, ValueError) as error:
            _fail(f"error: {error}")
        except (typer.Exit, typer.Abort, KeyboardInterrupt):
            raise
        except Exception as error:  # a bug: say so without a traceback unless asked
            if os.environ.get("SHARED_SCHEMA_DEBUG"):
                raise
            _fail(f"internal error ({type(error).__name__}: {error}). This is a bug in "
                  f"shared_schema {__version__}; rerun with SHARED_SCHEMA_DEBUG=1 for the traceback.")

    return wrapper


@app.command()
@friendly_errors
def validate(path: Annotated[Path, typer.Argument(help="Dataset directory.")]) -> None:
    """Check a dataset against format v1; exit 0 when valid, 1 with an explanation otherwise."""
    report = validate_dataset(path)
    for problem in report.warnings:
        typer.secho(f"warning: {problem}", err=True, fg=typer.colors.YELLOW)
    if report.ok:
        runs = report.tables.get("runs")
        obs = report.tables.get("observables")
        typer.echo(
            f"{path} is a valid lr-observables dataset (format {report.manifest['format_version']}): "
            f"{len(runs)} run(s), {len(obs):,} observable values."
        )
        return
    errors = report.errors
    lines = [f"{path} is not a valid lr-observables dataset (this reader: format {FORMAT_VERSION}). "
             f"{errors[0]}"]
    if len(errors) > 1:
        lines.append(f"{len(errors) - 1} more problem(s):")
        lines += [f"  - {p}" for p in errors[1:]]
    _fail("\n".join(lines))


def dataset_summary(path: Path) -> dict[str, Any]:
    """What `info` reports, as a dict."""
    dataset = read_dataset(path)
    runs, obs = dataset.runs, dataset.observables

    def counts(values: Any) -> dict[str, int]:
        series = values.astype(object).where(values.notna(), "(unknown)")
        return {str(k): int(v) for k, v in series.value_counts().sort_index().items()}

    layers = obs.drop_duplicates(["run_id", "layer"])
    per_run_checkpoints = obs.groupby("run_id", observed=True)["checkpoint"].max() + 1
    present = obs.drop_duplicates(["measure", "function", "statistic"])
    triples = present[["measure", "function", "statistic"]].astype(str).itertuples(index=False)
    names = {f"{m}.{f}.{s}" for m, f, s in triples}
    finite = np.isfinite(obs["value"].to_numpy())
    return {
        "path": str(path),
        "format_version": dataset.manifest["format_version"],
        "producer": dataset.manifest["producer"],
        "created": dataset.manifest["created"],
        "description": dataset.manifest.get("description", ""),
        "runs": len(runs),
        "sources": counts(runs["source"]),
        "status": counts(runs["status"]),
        "learning_rules": counts(runs["learning_rule"]),
        "tasks": counts(runs["task"]),
        "architectures": counts(runs["architecture"]),
        "layers": len(layers),
        "layers_per_run": {"min": int(layers.groupby("run_id", observed=True).size().min()),
                           "max": int(layers.groupby("run_id", observed=True).size().max())},
        "checkpoints_per_run": {"min": int(per_run_checkpoints.min()), "max": int(per_run_checkpoints.max())},
        "measurements": sorted(obs["measurement"].astype(str).unique().tolist()),
        "statistics": [o.name for o in OBSERVABLES if o.name in names],
        "values": len(obs),
        "non_finite_values": int((~finite).sum()),
        "unit_level_responses": 0 if dataset.units is None else len(dataset.units),
    }


@app.command()
@friendly_errors
def info(
    path: Annotated[Path, typer.Argument(help="Dataset directory.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Describe a dataset: runs, rules, layers, checkpoints, statistics, version."""
    summary = dataset_summary(path)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return

    def mapping(values: dict[str, int]) -> str:
        return ", ".join(f"{k} {v}" for k, v in values.items())

    producer = summary["producer"]
    rows = [
        ("format", f"lr-observables {summary['format_version']} (written by {producer['name']} "
                   f"{producer['version']}, {summary['created']})"),
        ("runs", f"{summary['runs']} ({mapping(summary['status'])}; {mapping(summary['sources'])})"),
        ("learning rules", mapping(summary["learning_rules"])),
        ("tasks", mapping(summary["tasks"])),
        ("architectures", mapping(summary["architectures"])),
        ("layers", f"{summary['layers']} ({summary['layers_per_run']['min']}-"
                   f"{summary['layers_per_run']['max']} per run)"),
        ("checkpoints", f"{summary['checkpoints_per_run']['min']}-{summary['checkpoints_per_run']['max']} per run"),
        ("measurements", ", ".join(summary["measurements"])),
        ("statistics", "all 45 (weight 21, act 21, grad 3)" if len(summary["statistics"]) == len(OBSERVABLES)
         else f"{len(summary['statistics'])}: {', '.join(summary['statistics'])}"),
        ("values", f"{summary['values']:,} ({summary['non_finite_values']:,} non-finite)"),
        ("unit responses", f"{summary['unit_level_responses']:,}"),
    ]
    if summary["description"]:
        rows.insert(1, ("description", summary["description"]))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        typer.echo(f"{key:<{width}}  {value}")


@app.command()
def names(
    measure: Annotated[str | None, typer.Option(help="Only this measure: weight, act or grad.")] = None,
) -> None:
    """List the 45 statistics: canonical name and the original study's name."""
    for observable in OBSERVABLES:
        if measure is None or observable.measure == measure:
            typer.echo(f"{observable.name:<22} {observable.legacy_name}")


@app.command("import-legacy")
@friendly_errors
def import_legacy_command(
    file: Annotated[Path, typer.Argument(help="The original study's dataset.pkl (or an exported .npz).")],
    out_dir: Annotated[Path, typer.Argument(help="Dataset directory to write.")],
    epochs_per_checkpoint: Annotated[float | None, typer.Option(
        help="Epochs between checkpoints (default 5 for 21 checkpoints, as in the paper; else 1).")] = None,
    run_fields: Annotated[str | None, typer.Option(
        help="Comma-separated meta fields that identify a run (default: the recognised run factors).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT_DIR if it exists.")] = False,
) -> None:
    """Bring the original study's layout (X, Y, meta, obs_keys, X_cat) into format v1.

    Pickles are read with a restricted unpickler that admits numpy arrays and builtin
    containers only; anything else is refused without being executed.
    """
    from shared_schema.legacy import import_legacy

    fields = [f.strip() for f in run_fields.split(",")] if run_fields else None
    path = import_legacy(file, out_dir, epochs_per_checkpoint=epochs_per_checkpoint,
                         run_fields=fields, overwrite=overwrite)
    dataset = read_dataset(path)
    typer.echo(f"wrote {path}: {len(dataset.runs)} runs, {len(dataset.observables):,} values")


@app.command("export-legacy")
@friendly_errors
def export_legacy_command(
    path: Annotated[Path, typer.Argument(help="Dataset directory.")],
    file: Annotated[Path, typer.Argument(help="Output .npz file.")],
    measurement: Annotated[str, typer.Option(help="Which measurement setting to export.")] = "all",
) -> None:
    """Write the original study's layout as .npz (X, Y, meta, obs_keys, X_cat; no pickle)."""
    from shared_schema.legacy import export_legacy

    dataset = read_dataset(path)
    export_legacy(dataset, file, measurement=measurement)
    with np.load(file, allow_pickle=False) as arrays:
        typer.echo(f"wrote {file}: X {arrays['X'].shape}, {len(arrays['obs_keys'])} observables")


def main() -> None:
    app(prog_name="shared-schema")


if __name__ == "__main__":
    sys.exit(main())
