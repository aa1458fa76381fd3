"""`lrsim tune`: choose the learning rate of each (task, architecture, rule) by measurement.

Every combination trains on a log grid of rates (a factor 2 apart, centred on the rate
lrsim would use untuned), each rate with several seeds, at the given width, epochs and
batch size. A rate scores its worst seed's final held-out metric; a seed that diverged, or
whose epoch loss rose above `MAX_LOSS_RISE` times its initial loss, scores 0. The best
score wins (ties within 0.005: the higher mean, then the lower rate). A winner at the edge of
the grid extends the grid one step that way, up to `extend` times.

Trials are appended to OUT/trials.jsonl as they finish, so an interrupted tune resumes where
it stopped; the chosen rates are written to OUT/regimes.json (atomically), the table format
`lrsim.regime` reads.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import multiprocessing
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lrsim
from lrsim.regime import batch_scaling

__all__ = ["MAX_LOSS_RISE", "Trial", "TuneSettings", "choose_rate", "tune"]

#: an epoch loss above this multiple of the initial loss marks a rate as unstable
MAX_LOSS_RISE = 1.5
TRIALS_FILE = "trials.jsonl"
TABLE_FILE = "regimes.json"
_TIE = 0.005


@dataclass(frozen=True)
class TuneSettings:
    """What every trial shares."""

    epochs: int = 15
    width: float = 0.5
    batch_size: int = 32
    seeds: tuple[int, ...] = (0, 1, 2)
    #: grid points: the untuned rate times 2**k for k in this range
    steps: tuple[int, ...] = (-2, -1, 0, 1, 2)
    #: how many times a grid may grow past an edge
    extend: int = 2
    schedule: str = "constant"
    #: per-architecture widths (e.g. resnet18 at 1/8)
    widths: dict[str, float] = field(default_factory=dict)

    def width_of(self, architecture: str) -> float:
        return float(self.widths.get(architecture, self.width))


@dataclass(frozen=True)
class Trial:
    """One training run of the search."""

    task: str
    architecture: str
    rule: str
    learning_rate: float  # at the settings' batch size
    seed: int

    @property
    def key(self) -> tuple[str, str, str, float, int]:
        return self.task, self.architecture, self.rule, round(self.learning_rate, 12), self.seed


def untuned_rate(architecture: str, rule: str, batch_size: int) -> float:
    """The rate lrsim uses without a tuned entry, at `batch_size`: the grid's centre."""
    from lrsim.rules import get_rule
    from lrsim.schedules import learning_rate

    return learning_rate(architecture, get_rule(rule).optimizer, batch_size)


def grid_rate(centre: float, step: int) -> float:
    return float(f"{centre * 2.0**step:.4g}")


# ------------------------------------------------------------------ one trial (in a worker)

_TASKS: dict[str, Any] = {}


def _init_worker() -> None:
    from lrsim.threads import configure_threads

    configure_threads(1)


def run_trial(trial: Trial, settings: TuneSettings) -> dict[str, Any]:
    """Train one trial and return its record (the line trials.jsonl keeps)."""
    from lrsim.gradient_registry import custom_gradients_released
    from lrsim.rules import get_rule
    from lrsim.schedules import REFERENCE_BATCH_SIZE
    from lrsim.tasks import get_task
    from lrsim.trainer import TrainConfig, Trainer

    if trial.task not in _TASKS:
        _TASKS[trial.task] = get_task(trial.task)
    task = _TASKS[trial.task]
    optimizer = get_rule(trial.rule).optimizer
    base = trial.learning_rate / batch_scaling(optimizer, settings.batch_size, REFERENCE_BATCH_SIZE)
    config = TrainConfig(trial.architecture, trial.rule, epochs=settings.epochs, batch_size=settings.batch_size,
                         width=settings.width_of(trial.architecture), model_seed=trial.seed,
                         dataset_seed=trial.seed, base_learning_rate=base, schedule=settings.schedule)
    began = time.perf_counter()
    with custom_gradients_released():
        result = Trainer(task, config).fit()
    losses = [h["loss"] for h in result.history]
    return {
        **asdict(trial),
        "status": result.status,
        "final_metric": result.final_metric,
        "initial_metric": result.initial_metric,
        "initial_loss": result.initial_loss,
        "rise": _finite_or_none(rise_ratio(result.initial_loss or math.nan, losses)),
        "curve": result.learning_curve,
        "seconds": round(time.perf_counter() - began, 2),
    }


def rise_ratio(initial_loss: float, losses: list[float]) -> float:
    """The largest epoch loss over the initial loss (inf when a loss is not finite): the stability check."""
    if not losses:
        return 1.0
    if not all(math.isfinite(x) for x in losses) or not math.isfinite(initial_loss) or initial_loss <= 0:
        return math.inf
    return max(losses) / initial_loss


def _finite_or_none(value: float | None, digits: int = 4) -> float | None:
    """JSON has no inf or NaN: those become null."""
    return round(float(value), digits) if value is not None and math.isfinite(value) else None


# ------------------------------------------------------------------ choosing

def trial_score(record: dict[str, Any]) -> float:
    """A trial's final metric, or 0 when it diverged or its loss rose above MAX_LOSS_RISE x the start."""
    metric = record.get("final_metric")
    if record.get("status") != "complete" or metric is None or not math.isfinite(metric):
        return 0.0
    rise = record.get("rise")
    if rise is None or not rise <= MAX_LOSS_RISE:
        return 0.0
    return float(metric)


def choose_rate(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The best rate of one combination's trials: highest worst-seed score, then mean, then the lower rate."""
    by_rate: dict[float, list[dict[str, Any]]] = {}
    for record in records:
        by_rate.setdefault(float(record["learning_rate"]), []).append(record)
    if not by_rate:
        raise ValueError("no trials to choose from")
    summary = []
    for rate, trials in sorted(by_rate.items()):
        scores = [trial_score(t) for t in trials]
        ordered = sorted(trials, key=lambda t: t["seed"])
        summary.append({"learning_rate": rate, "score": round(min(scores), 4),
                        "mean": round(sum(scores) / len(scores), 4),
                        "metrics": [_finite_or_none(t.get("final_metric")) for t in ordered],
                        "rises": [_finite_or_none(t.get("rise"), 3) for t in ordered]})
    best = max(s["score"] for s in summary)
    near = [s for s in summary if s["score"] >= best - _TIE]
    top_mean = max(s["mean"] for s in near)
    winner = min((s for s in near if s["mean"] >= top_mean - _TIE), key=lambda s: s["learning_rate"])
    return {"learning_rate": winner["learning_rate"], "score": winner["score"], "mean": winner["mean"],
            "grid": summary}


# ------------------------------------------------------------------ the search

def trial_settings(trial: Trial, settings: TuneSettings) -> dict[str, Any]:
    """What a trial's result depends on besides its rate and seed: kept in its record, checked on resume."""
    return {"epochs": settings.epochs, "width": settings.width_of(trial.architecture),
            "batch_size": settings.batch_size, "schedule": settings.schedule}


def _read_trials(path: Path, settings: TuneSettings) -> dict[tuple, dict[str, Any]]:
    """The trials already in `path`; a last line cut short by an interrupted write is dropped from the file."""
    done: dict[tuple, dict[str, Any]] = {}
    if not path.exists():
        return done
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            trial = Trial(record["task"], record["architecture"], record["rule"], float(record["learning_rate"]),
                          int(record["seed"]))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            if number == len(lines):
                _write_text_atomic("".join(f"{kept}\n" for kept in lines[:-1]), path)
                continue
            raise ValueError(f"{path}, line {number}: not a trial record; delete the line or the file") from None
        recorded = record.get("settings")
        expected = trial_settings(trial, settings)
        if recorded is not None and recorded != expected:
            differ = ", ".join(f"{k} {recorded.get(k)!r} there, {v!r} now" for k, v in expected.items()
                               if recorded.get(k) != v)
            raise ValueError(f"{path}, line {number}: a trial made with other settings ({differ}); tune into "
                             f"another --out, or with the same settings")
        done[trial.key] = record
    return done


def _write_text_atomic(text: str, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    temporary.write_text(text)
    os.replace(temporary, path)


def _write_json_atomic(data: Any, path: Path) -> None:
    _write_text_atomic(json.dumps(data, indent=1) + "\n", path)


Combination = tuple[str, str, str]


def _results(pool: ProcessPoolExecutor | None, runner: Callable[[Trial, TuneSettings], dict[str, Any]],
             todo: list[Trial], settings: TuneSettings) -> Iterator[tuple[Trial, dict[str, Any]]]:
    """Each trial with its record as it finishes: in `pool`, or one by one in this process."""
    if pool is None:
        for trial in todo:
            yield trial, runner(trial, settings)
        return
    running = {pool.submit(runner, trial, settings): trial for trial in todo}
    while running:
        finished, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in finished:
            yield running.pop(future), future.result()


def tune(
    combinations: Sequence[Combination],
    out: str | Path,
    settings: TuneSettings = TuneSettings(),
    workers: int | None = None,
    command: str = "",
    on_update: Callable[[int, int, dict[str, Any] | None], None] | None = None,
    runner: Callable[[Trial, TuneSettings], dict[str, Any]] = run_trial,
) -> Path:
    """Search the rate of every (task, architecture, rule) in `combinations`; returns OUT/regimes.json.

    Trials run in `workers` fresh processes (one thread each), or in this one when `workers`
    is 1. `on_update(done, planned, record)` is called as trials finish (record None at the
    start of each round). `runner` trains one trial (tests pass a stand-in).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    trials_file = out / TRIALS_FILE
    done = _read_trials(trials_file, settings)
    centres = {c: untuned_rate(c[1], c[2], settings.batch_size) for c in combinations}
    steps = {c: list(settings.steps) for c in combinations}
    extended = dict.fromkeys(combinations, 0)

    def planned_of(c: Combination) -> list[Trial]:
        return [Trial(*c, grid_rate(centres[c], k), seed) for k in steps[c] for seed in settings.seeds]

    def planned() -> list[Trial]:
        return [t for c in combinations for t in planned_of(c)]

    def records_of(c: Combination) -> list[dict[str, Any]]:
        return [done[t.key] for t in planned_of(c)]

    workers = workers or os.cpu_count() or 1
    pool = None
    if workers == 1:
        _init_worker()
    else:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker)
    try:
        while True:
            todo = [t for t in planned() if t.key not in done]
            if on_update is not None:
                on_update(len(planned()) - len(todo), len(planned()), None)
            total, finished = len(planned()), len(planned()) - len(todo)
            with trials_file.open("a") as log:
                for trial, record in _results(pool, runner, todo, settings):
                    record = {**record, "settings": trial_settings(trial, settings)}
                    done[trial.key] = record
                    log.write(json.dumps(record) + "\n")
                    log.flush()
                    finished += 1
                    if on_update is not None:
                        on_update(finished, total, record)
            grew = False
            for c in combinations:
                if extended[c] >= settings.extend:
                    continue
                records = records_of(c)
                chosen = choose_rate(records)
                rates = sorted({r["learning_rate"] for r in records})
                if chosen["score"] <= 0:
                    continue
                if chosen["learning_rate"] == rates[-1]:
                    steps[c].append(max(steps[c]) + 1)
                elif chosen["learning_rate"] == rates[0]:
                    steps[c].insert(0, min(steps[c]) - 1)
                else:
                    continue
                extended[c] += 1
                grew = True
            if not grew:
                break
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    rates, unstable = [], []
    for c in combinations:
        chosen = choose_rate(records_of(c))
        if chosen["score"] <= 0:
            unstable.append({"task": c[0], "architecture": c[1], "rule": c[2], "grid": chosen["grid"]})
            continue
        rates.append({"task": c[0], "architecture": c[1], "rule": c[2], "learning_rate": chosen["learning_rate"],
                      "batch_size": settings.batch_size, "score": chosen["score"], "mean": round(chosen["mean"], 4),
                      "grid": chosen["grid"]})
    table = {
        "description": "learning rates chosen by `lrsim tune`: per (task, architecture, rule), the rate whose worst "
                       "seed reached the best held-out metric with no loss rise above "
                       f"{MAX_LOSS_RISE}x; rates are at batch_size and rescaled per lrsim.regime",
        "made": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lrsim": lrsim.__version__,
        "command": command,
        "settings": {**asdict(settings), "seeds": list(settings.seeds), "steps": list(settings.steps)},
        "rates": rates,
        "unstable": unstable,  # every rate diverged or let the loss rise: no rate is chosen
    }
    path = out / TABLE_FILE
    _write_json_atomic(table, path)
    return path


def merge_tables(update: str | Path, into: str | Path) -> Path:
    """Replace or add `update`'s rates in the table at `into` (atomically); its settings are kept per entry."""
    from lrsim.regime import read_regime_table

    new = read_regime_table(update)
    into = Path(into)
    old = read_regime_table(into) if into.exists() else {"rates": []}
    keys = {(r["task"], r["architecture"], r["rule"]) for r in new["rates"]}
    kept = [r for r in old["rates"] if (r["task"], r["architecture"], r["rule"]) not in keys]
    stamped = [{**r, "made": new.get("made"), "settings": new.get("settings"), "command": new.get("command")}
               for r in new["rates"]]
    merged = {"description": new.get("description", old.get("description", "")),
              "made": new.get("made"), "lrsim": new.get("lrsim"), "rates": kept + stamped}
    _write_json_atomic(merged, into)
    return into
