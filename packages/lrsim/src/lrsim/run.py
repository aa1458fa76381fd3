"""One run of the virtual experiment: train, observe at K checkpoints, write one dataset.

    OUT.partial/spec.json           what the run is (checked on --resume)
    OUT.partial/checkpoints/        per-epoch training checkpoints (lrsim.checkpoints)
    OUT.partial/observations/       labels.parquet: what identifies each observable (written once);
                                    checkpoint-NNNN.npy: the values at each observation point
    OUT.partial/units/              unit-level responses per observation point (--record-units)
    OUT/                            the finished dataset (format v1), written atomically

Observation points are K global steps evenly spaced over the schedule, the first before
any update (initialisation) and the last after the final one. Observables are taken on
the task's probe set, the same inputs at every point. Everything the dataset needs is
written into OUT.partial as it happens, so Ctrl-C or a killed process leaves a run that
`--resume` finishes (the training resumes from its last epoch checkpoint, and the points
after it are observed again, identically); OUT itself only ever appears complete.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import lrsim
from lrsim.gradient_registry import custom_gradients_released
from lrsim.observables import ProbePass, unit_responses, with_full_setting
from lrsim.observables.collect import measure, rows
from lrsim.rules import get_rule
from lrsim.spec import RunSpec
from lrsim.tasks import get_task
from lrsim.trainer import Progress, TrainConfig, Trainer
from shared_schema import encode_learning_curve, read_dataset, write_dataset

PROBE_SEED = 0
#: the observables' row labels in OUT.partial/observations: the same at every point of a run
LABELS_FILE = "labels.parquet"


class RunError(RuntimeError):
    """A run that cannot start or resume, and what to do."""


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended and where its dataset is."""

    run_id: str
    status: str  # complete | diverged
    detail: str
    path: Path
    seconds: float = 0.0
    #: wall time spent on observables: the probe set and pass, the statistics, their files and the dataset
    observe_seconds: float = 0.0
    checkpoints: int = 0  # observation points written
    final_loss: float | None = None
    final_metric: float | None = None
    metric_name: str | None = None


def work_dir(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def observation_steps(total_steps: int, checkpoints: int) -> list[int]:
    """K global steps evenly spaced from 0 (initialisation) to the last step."""
    if total_steps < checkpoints - 1:
        raise RunError(
            f"{checkpoints} checkpoints need at least {checkpoints - 1} optimizer steps, but the run has only "
            f"{total_steps} (epochs x steps per epoch); train longer, use a smaller batch, or fewer --checkpoints")
    return [round(s) for s in np.linspace(0, total_steps, checkpoints)]


def _write_atomic(data: pd.DataFrame | np.ndarray, path: Path) -> None:
    """A table as Parquet, or an array as .npy (never pickled), via a temporary file."""
    temporary = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    if isinstance(data, np.ndarray):
        with open(temporary, "wb") as file:
            np.save(file, data, allow_pickle=False)
    else:
        data.to_parquet(temporary, index=False)
    os.replace(temporary, path)


def _existing_outcome(spec: RunSpec, out: Path) -> RunOutcome:
    run = read_dataset(out).runs.iloc[0]
    recorded = RunSpec.from_json(json.dumps(json.loads(run["hyperparameters"])["spec"]))
    if recorded != spec:
        raise RunError(f"{out} holds a finished run with other settings ({'; '.join(spec.differences(recorded))}); "
                       f"choose another --out")
    return RunOutcome(spec.run_id, str(run["status"]), str(run["status_detail"] or ""), out)


def _prepare_work(spec: RunSpec, work: Path, resume: bool) -> bool:
    """Create or check the work directory; True when resuming an interrupted run."""
    spec_file = work / "spec.json"
    if work.exists():
        if not resume:
            raise RunError(f"an interrupted run is in {work}; pass --resume to continue it, or delete that directory")
        if spec_file.exists():
            previous = RunSpec.from_json(spec_file.read_text())
            if previous != spec:
                raise RunError(f"{work} holds a run with other settings ({'; '.join(spec.differences(previous))}); "
                               f"resume it with the same options or delete it")
            return True
    for sub in ("observations", "units"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    temporary = work / ".spec.json.tmp"
    temporary.write_text(spec.to_json())
    os.replace(temporary, spec_file)
    return False


@custom_gradients_released()  # the run's model and compiled steps die with it: so do their gradients
def execute_run(
    spec: RunSpec,
    out: str | Path,
    *,
    resume: bool = False,
    data_dir: str | None = None,
    download: bool = False,
    progress: bool | Callable[[Progress], None] = False,
) -> RunOutcome:
    """Train one network with observables and write its dataset to `out`.

    `progress`: False, or a callback receiving `lrsim.trainer.Progress` updates.
    A finished `out` is returned as is with `resume`, refused without.
    """
    out = Path(out)
    if out.exists():
        if not resume:
            raise RunError(f"{out} already exists; choose another --out (or --resume to keep it)")
        return _existing_outcome(spec, out)
    work = work_dir(out)
    resuming = _prepare_work(spec, work, resume)
    start = time.perf_counter()

    task = get_task(spec.task, data_dir=data_dir, download=download)
    config = TrainConfig.from_spec(spec)
    trainer = Trainer(task, config, checkpoint_dir=work / "checkpoints", resume=resuming)
    steps = observation_steps(trainer.total_steps, spec.checkpoints)
    network = trainer.network
    began = time.perf_counter()
    probe = ProbePass(network, task.probe_inputs(spec.probe_size, seed=PROBE_SEED))
    settings = with_full_setting(spec.settings)
    observe_seconds = time.perf_counter() - began

    observations = work / "observations"
    labels: pd.DataFrame | None = None  # the rows' labels, from the first point this process measures
    measured: dict[int, np.ndarray] = {}  # this process's points' values, not read back at the end
    written_units: dict[Path, pd.DataFrame] = {}

    def on_observe(index: int, step: int, epoch: float) -> None:
        nonlocal observe_seconds, labels
        began = time.perf_counter()
        layers = probe.snapshots()
        row_labels, values = measure(layers, settings, run_id=spec.run_id, checkpoint=index)
        if labels is None:
            labels = row_labels.frame(spec.run_id)
            if not (observations / LABELS_FILE).exists():
                _write_atomic(labels, observations / LABELS_FILE)
        _write_atomic(values, observations / f"checkpoint-{index:04d}.npy")
        measured[index] = values
        if spec.record_units:
            units = pd.concat([unit_responses(layer.outputs, spec.record_units, run_id=spec.run_id,
                                              layer=layer.name, checkpoint=index, epoch=epoch)
                               for layer in layers], ignore_index=True)
            path = work / "units" / f"checkpoint-{index:04d}.parquet"
            _write_atomic(units, path)
            written_units[path] = units
        observe_seconds += time.perf_counter() - began

    result = trainer.fit(observe_at=steps, on_observe=on_observe,
                         on_progress=progress if callable(progress) else None)
    began = time.perf_counter()
    epochs = [trainer.epoch_at(step) for step in steps]  # as on_observe was given them
    points = _observation_points(observations, epochs, measured, labels)
    observed = _assemble(spec, work, out, result, config, points, written_units)
    shutil.rmtree(work)
    observe_seconds += time.perf_counter() - began
    return RunOutcome(spec.run_id, result.status, result.status_detail, out,
                      seconds=time.perf_counter() - start, observe_seconds=observe_seconds, checkpoints=observed,
                      final_loss=result.final_loss, final_metric=result.final_metric, metric_name=result.metric_name)


def _observation_points(directory: Path, epochs: list[float], measured: dict[int, np.ndarray],
                        labels: pd.DataFrame | None) -> list[pd.DataFrame]:
    """The rows of each observation point in order; stops at the first point not reached. Values
    this process measured come from `measured`, the others (before a resume) from disk; a point
    that an earlier lrsim wrote as a whole Parquet table is read as one."""
    frames = []
    for index, epoch in enumerate(epochs):
        values_file, table_file = (directory / f"checkpoint-{index:04d}{suffix}" for suffix in (".npy", ".parquet"))
        if index in measured or values_file.exists():
            if labels is None:
                labels = _read_labels(directory)
            values = measured[index] if index in measured else np.load(values_file, allow_pickle=False)
            frames.append(rows(labels, values, checkpoint=index, epoch=epoch))
        elif table_file.exists():
            frames.append(pd.read_parquet(table_file))
        else:
            break
    return frames


def _read_labels(directory: Path) -> pd.DataFrame:
    path = directory / LABELS_FILE
    if not path.exists():
        raise RunError(f"{path} is missing, so the observation values next to it cannot be labelled; "
                       f"this interrupted run cannot be resumed: delete {directory.parent} and run again")
    return pd.read_parquet(path)


def _read_tables(directory: Path, written: dict[Path, pd.DataFrame]) -> list[pd.DataFrame]:
    """The Parquet files of the observation points in order; stops at the first missing point.
    Files this process wrote come from `written` (the same frames), the others from disk."""
    frames = []
    for index in range(len(list(directory.glob("checkpoint-*.parquet")))):
        path = directory / f"checkpoint-{index:04d}.parquet"
        if not path.exists():
            break
        frames.append(written[path] if path in written else pd.read_parquet(path))
    return frames


def _assemble(spec: RunSpec, work: Path, out: Path, result, config: TrainConfig, points: list[pd.DataFrame],
              written_units: dict[Path, pd.DataFrame]) -> int:
    """Write the dataset from the observation points reached, in order."""
    if not points:
        raise RunError(f"{spec.run_id}: no observation was taken before the run ended ({result.status_detail})")
    observables = pd.concat(points, ignore_index=True)
    unit_points = _read_tables(work / "units", written_units)[: len(points)]
    units = pd.concat(unit_points, ignore_index=True) if unit_points else None
    hyperparameters = {
        "spec": json.loads(spec.to_json()),
        "model_seed_used": result.model_seed,
        "dataset_seed_used": result.dataset_seed,
        "learning_rate": result.learning_rate,
        "schedule": config.schedule,
        "rule_options_used": get_rule(config.rule, **dict(config.rule_options)).options(),
        "epochs_completed": result.epochs_completed,
        "global_step": result.global_step,
        "probe_seed": PROBE_SEED,
        "lrsim": lrsim.__version__,
    }
    runs = pd.DataFrame({
        "run_id": [spec.run_id], "source": ["simulation"], "learning_rule": [spec.rule], "task": [spec.task],
        "architecture": [spec.architecture], "batch_size": pd.array([spec.batch_size], dtype="Int64"),
        "model_seed": pd.array([spec.model_seed], dtype="Int64"),
        "dataset_seed": pd.array([spec.dataset_seed], dtype="Int64"),
        "status": [result.status], "status_detail": [result.status_detail],
        "hyperparameters": [json.dumps(hyperparameters)],
        "final_loss": [result.final_loss], "final_metric": [result.final_metric],
        "metric_name": [result.metric_name],
        "learning_curve": [encode_learning_curve(result.learning_curve)],
    })
    write_dataset(out, runs, observables, units=units, producer=("lrsim", lrsim.__version__),
                  description=f"lrsim run {spec.run_id}")
    return len(points)
