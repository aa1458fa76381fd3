"""`lrsim`: train networks with learning rules and record their observables."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from lrsim import __version__

app = typer.Typer(
    help="The virtual experiment: train networks with learning rules (sgdm, adam, fa, ia, kp) and record "
    "the observables of every layer while they learn, in the lr-observables format.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)


def friendly_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Clear one-paragraph errors and exit status 1 instead of tracebacks."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from lrsim.run import RunError
        from lrsim.sweep.grid import SweepError
        from shared_schema import FormatError

        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/yellow]: nothing finished was lost; run the same command with "
                          "--resume to finish.")
            raise typer.Exit(130) from None
        except (RunError, SweepError, FormatError, FileExistsError, FileNotFoundError, KeyError, ValueError,
                LookupError) as error:
            message = error.args[0] if isinstance(error, KeyError) and error.args else error
            console.print(f"[red]error[/red]: {message}", markup=True, highlight=False)
            raise typer.Exit(1) from None
        except (typer.Exit, typer.Abort):
            raise
        except Exception as error:
            if os.environ.get("LRSIM_DEBUG"):
                raise
            console.print(f"[red]internal error[/red] ({type(error).__name__}: {error}). This is a bug in lrsim "
                          f"{__version__}; rerun with LRSIM_DEBUG=1 for the traceback.", highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console, transient=False,
    )


def _rule_options(rule: str, items: list[str]) -> tuple[tuple[str, float], ...]:
    """NAME=VALUE items as the rule's coefficients, checked against the rule."""
    options: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if name.strip() in options:
            raise ValueError(f"--rule-option {name.strip()} is given twice; give each coefficient once")
        try:
            options[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ValueError(f"--rule-option {item!r}: write NAME=NUMBER, e.g. alpha=0.02")
    if options:
        from lrsim.rules import get_rule

        try:
            get_rule(rule, **options)
        except TypeError as error:
            raise ValueError(str(error)) from None
    return tuple(sorted(options.items()))


@app.command()
@friendly_errors
def run(
    out: Annotated[Path, typer.Option(help="Dataset directory to write (state in OUT.partial while it runs).")],
    rule: Annotated[str, typer.Option(help="Learning rule: sgdm, adam, fa, ia, kp.")] = "sgdm",
    arch: Annotated[str, typer.Option("--arch", help="Architecture, e.g. knet4, resnet18, alexnet_lrn.")] = "knet4",
    task: Annotated[str, typer.Option(help="Task: digits (embedded, no download), cifar10, simclr:digits...")
                    ] = "digits",
    width: Annotated[float, typer.Option(help="Width multiplier of the architecture (1 = the original).")] = 1.0,
    epochs: Annotated[int, typer.Option(help="Training epochs.")] = 10,
    checkpoints: Annotated[int, typer.Option(help="Observation points, evenly spaced; 0 = initialisation.")] = 21,
    batch_size: Annotated[int, typer.Option(help="Training batch size.")] = 32,
    model_seed: Annotated[str, typer.Option(help="Initialisation seed, or 'none' (drawn and recorded).")] = "0",
    dataset_seed: Annotated[str, typer.Option(help="Data-order seed, or 'none' (drawn and recorded).")] = "0",
    lr: Annotated[float | None, typer.Option(
        help="Base learning rate at batch size 256, rescaled to --batch-size (linearly for SGD, by the square root "
        "for Adam). Default: the rate `lrsim tune` chose for this task, architecture and rule "
        "(lrsim/regimes.json), else the architecture's (lrsim.training.BASE_LEARNING_RATES).")] = None,
    schedule: Annotated[str, typer.Option(help="Learning-rate schedule: constant, step (x0.1 at 30/60/90%), cosine.")
                        ] = "constant",
    measure: Annotated[list[str] | None, typer.Option(
        help="A simulated instrument, e.g. 'units=0.1,noise=0.5' (repeatable); the ideal one is always recorded.")
    ] = None,
    rule_option: Annotated[list[str] | None, typer.Option(
        help="A coefficient of the rule, NAME=VALUE (repeatable), e.g. --rule-option alpha=0.02 for ia; "
        "default: the rule's own.")] = None,
    record_units: Annotated[int, typer.Option(help="Also store the responses of N fixed units per layer.")] = 0,
    probe_size: Annotated[int, typer.Option(help="Held-out probe inputs the observables are measured on.")] = 128,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run from OUT.partial.")] = False,
    threads: Annotated[int, typer.Option(
        help="CPU threads (TensorFlow, BLAS); runs reproduce bit for bit only at the same count (1 in sweeps).")
    ] = 1,
    data_dir: Annotated[str | None, typer.Option(help="TensorFlow Datasets directory (default: TFDS's).")] = None,
    download: Annotated[bool, typer.Option(help="Download the task's dataset if it is missing.")] = False,
) -> None:
    """Train one network and record its observables as an lr-observables dataset."""
    from lrsim.threads import configure_threads

    configure_threads(threads)
    from lrsim.run import execute_run
    from lrsim.spec import RunSpec, parse_seed

    spec = RunSpec(rule=rule, architecture=arch, task=task, batch_size=batch_size, model_seed=parse_seed(model_seed),
                   dataset_seed=parse_seed(dataset_seed), width=width, epochs=epochs, checkpoints=checkpoints,
                   base_lr=lr, schedule=schedule, measurements=tuple(measure or ()), record_units=record_units,
                   probe_size=probe_size, rule_options=_rule_options(rule, rule_option or []))
    console.print(f"run [bold]{spec.run_id}[/bold]: {rule} on {arch} (width {width:g}) x {task}, {epochs} epochs, "
                  f"batch {batch_size}, {checkpoints} checkpoints", highlight=False)
    with _progress() as bar:
        job = bar.add_task("training", total=None, status="")

        def on_progress(p) -> None:
            metric = "" if p.metric is None else f" metric {p.metric:.3f}"
            bar.update(job, total=p.total_steps, completed=p.step,
                       description=f"epoch {p.epoch:5.2f}/{epochs}", status=f"loss {p.loss:.4f}{metric}")

        outcome = execute_run(spec, out, resume=resume, data_dir=data_dir, download=download, progress=on_progress)
    share = outcome.observe_seconds / outcome.seconds if outcome.seconds else 0.0
    colour = "green" if outcome.status == "complete" else "yellow"
    metric = "" if outcome.final_metric is None else f", {outcome.metric_name} {outcome.final_metric:.3f}"
    console.print(f"[{colour}]{outcome.status}[/{colour}]: {outcome.detail}{metric}", highlight=False)
    from lrsim.regime import target_for, target_settings

    target = target_for(task, arch, rule)
    if target is not None and outcome.final_metric is not None:
        verdict = "met" if outcome.final_metric >= target else "not met"
        console.print(f"target of {rule} on {arch} x {task} ({target_settings(arch)}): {outcome.metric_name} >= "
                      f"{target:.2f}; this run {outcome.final_metric:.3f}: {verdict}", highlight=False)
    if outcome.seconds:
        console.print(f"{outcome.checkpoints} checkpoints observed in {outcome.seconds:.1f} s "
                      f"({100 * share:.1f}% of it measuring observables)", highlight=False)
    typer.echo(str(outcome.path))


@app.command()
@friendly_errors
def sweep(
    file: Annotated[Path, typer.Argument(help="Sweep file (TOML), e.g. sweeps/demo.toml.")],
    out: Annotated[Path, typer.Option(help="Sweep directory: shards in OUT/runs, the merged dataset in OUT/dataset.")],
    workers: Annotated[int | None, typer.Option(help="Worker processes of the local Dask cluster (default: cores).")
                       ] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of a running Dask scheduler (e.g. one started by dask-jobqueue on SLURM) instead of a local "
        "cluster.")] = None,
    resume: Annotated[bool, typer.Option(help="Finish a sweep in OUT: finished runs are skipped.")] = False,
    pin_workers: Annotated[bool, typer.Option(
        help="Pin each worker of a local cluster with one worker per usable core (the default count) to its core "
        "(Linux): 2 workers ran the demo sweep about 4% faster. Turn off on a machine that other jobs share. "
        "Ignored with --scheduler and with fewer workers than cores.")] = True,
    dry_run: Annotated[bool, typer.Option(help="List the runs and exit.")] = False,
) -> None:
    """Run every run of a sweep file on Dask, then merge them into one dataset."""
    from lrsim.sweep.execute import run_sweep
    from lrsim.sweep.grid import load_sweep

    grid = load_sweep(file)
    if dry_run:
        for spec in grid.specs:
            typer.echo(spec.run_id)
        console.print(f"{len(grid.specs)} runs in {file.name} ({grid.name})", highlight=False)
        return
    where = scheduler or f"a local cluster of {workers or os.cpu_count()} worker process(es)"
    console.print(f"sweep [bold]{grid.name}[/bold]: {len(grid.specs)} runs on {where}", highlight=False)
    with _progress() as bar:
        job = bar.add_task("runs", total=len(grid.specs), status="")

        def on_update(report, running: int) -> None:
            done = report.skipped + len(report.statuses)
            bar.update(job, completed=done, status=(
                f"complete {report.count('complete') + report.skipped}, diverged {report.count('diverged')}, "
                f"failed {report.count('failed')}, running {running}"))

        report = run_sweep(grid, out, workers=workers, scheduler=scheduler, resume=resume,
                           pin_workers=pin_workers, on_update=on_update)
    console.print(f"{report.count('complete')} complete, {report.count('diverged')} diverged, "
                  f"{report.count('failed')} failed, {report.skipped} already done, in {report.seconds:.0f} s",
                  highlight=False)
    if report.count("failed"):
        console.print(f"failures and their tracebacks: {out / 'failed'}", highlight=False)
    typer.echo(str(report.merged))


@app.command()
@friendly_errors
def tune(
    out: Annotated[Path, typer.Option(help="Directory for trials.jsonl (resumable) and the chosen regimes.json.")],
    task: Annotated[list[str] | None, typer.Option(help="Task(s) to tune (repeatable).")] = None,
    arch: Annotated[list[str] | None, typer.Option("--arch", help="Architecture(s) to tune (repeatable).")] = None,
    rule: Annotated[list[str] | None, typer.Option(help="Rule(s) to tune (repeatable; default all).")] = None,
    epochs: Annotated[int, typer.Option(help="Epochs per trial.")] = 15,
    width: Annotated[float, typer.Option(help="Width multiplier of every architecture but the ResNets.")] = 0.5,
    resnet_width: Annotated[float, typer.Option(help="Width multiplier of the ResNets.")] = 0.125,
    batch_size: Annotated[int, typer.Option(help="Batch size the rates are tuned at.")] = 32,
    seeds: Annotated[int, typer.Option(help="Seeds per rate (model and data-order seeds 0..N-1).")] = 3,
    grid: Annotated[str, typer.Option(
        help="Grid steps k: rates are the untuned rate x 2**k (comma-separated); a best rate at an edge grows the "
        "grid that way, up to --extend times.")] = "-2,-1,0,1,2",
    extend: Annotated[int, typer.Option(help="How often a grid may grow past an edge.")] = 2,
    workers: Annotated[int | None, typer.Option(help="Trials run side by side (default: cores).")] = None,
    merge_into: Annotated[Path | None, typer.Option(
        help="Also merge the chosen rates into this regime table, e.g. packages/lrsim/src/lrsim/regimes.json "
        "(the one lrsim ships).")] = None,
) -> None:
    """Choose each (task, architecture, rule)'s learning rate: a log-grid search over seeds (resumable)."""
    from lrsim.rules import RULES
    from lrsim.tune import TuneSettings, merge_tables
    from lrsim.tune import tune as run_tune

    try:
        steps = tuple(int(k) for k in grid.split(","))
    except ValueError:
        raise ValueError(f"--grid takes comma-separated integers such as -2,-1,0,1,2, not {grid!r}") from None
    if seeds < 1:
        raise ValueError("--seeds must be at least 1")
    tasks, archs, rules = task or ["digits"], arch or ["knet4"], rule or list(RULES)
    combinations = [(t, a, r) for t in tasks for a in archs for r in rules]
    widths = {a: resnet_width for a in archs if a.startswith("resnet")}
    settings = TuneSettings(epochs=epochs, width=width, batch_size=batch_size, seeds=tuple(range(seeds)),
                            steps=steps, extend=extend, widths=widths)
    console.print(f"tune {len(combinations)} combination(s) x {len(steps)}+ rates x {seeds} seeds, {epochs} epochs, "
                  f"batch {batch_size}; trials in {out / 'trials.jsonl'}", highlight=False)
    with _progress() as bar:
        job = bar.add_task("trials", total=None, status="")

        def on_update(done: int, planned: int, record) -> None:
            status = "" if record is None else (
                f"last: {record['architecture']} {record['rule']} lr {record['learning_rate']:.3g} "
                f"seed {record['seed']}: {record['final_metric'] or 0:.3f}")
            bar.update(job, total=planned, completed=done, status=status)

        path = run_tune(combinations, out, settings, workers=workers, command=" ".join(["lrsim", *sys.argv[1:]]),
                        on_update=on_update)
    table = json.loads(path.read_text())
    for entry in table["rates"]:
        typer.echo(f"{entry['task']:>14} {entry['architecture']:>10} {entry['rule']:>5}  "
                   f"lr {entry['learning_rate']:.4g} at batch {entry['batch_size']}  "
                   f"worst seed {entry['score']:.3f}  mean {entry['mean']:.3f}")
    for entry in table.get("unstable", []):
        console.print(f"[yellow]warning[/yellow]: {entry['task']} {entry['architecture']} {entry['rule']}: every rate "
                      "diverged or let the loss rise above 1.5x its start; no rate written (widen --grid)",
                      highlight=False)
    if merge_into is not None:
        merge_tables(path, merge_into)
        console.print(f"merged into {merge_into}", highlight=False)
    typer.echo(str(path))


@app.command()
@friendly_errors
def merge(
    directory: Annotated[Path, typer.Argument(help="Sweep directory (holding runs/).")],
    out: Annotated[Path, typer.Argument(help="Dataset directory to write.")],
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
) -> None:
    """Merge a sweep's finished runs (and failed ones, as status 'failed') into one dataset."""
    from lrsim.sweep.merge import merge_sweep

    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; choose another path or pass --overwrite")
    typer.echo(str(merge_sweep(directory, out)))


def main() -> None:
    app(prog_name="lrsim")


if __name__ == "__main__":
    sys.exit(main())
