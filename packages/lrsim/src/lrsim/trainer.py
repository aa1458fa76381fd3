"""The training loop: one learning rule, one architecture, one task, deterministic and resumable.

A custom compiled step (`lrsim.step`, no `model.fit`); one call runs the steps up to the next
observation point, progress report (when asked for) or epoch end, and stops early at a step
that is not finite.

Determinism: TensorFlow op determinism is switched on; the model seed fixes every initializer
and dropout seed; the dataset seed fixes the data order through
`task.train_batches(batch_size, dataset_seed, epoch)`, epochs counted from 0. A seed given as
None is drawn once at the start of the run and recorded in the result and in every checkpoint.
A run repeated in a fresh process is bit-identical; a later run in the same process (a sweep
worker) may differ in the last bits, because TensorFlow's oneDNN kernels can sum in another
order (TF_ENABLE_ONEDNN_OPTS=0 avoids it).

Usage::

    trainer = Trainer(task, TrainConfig("knet4", "ia", epochs=10, batch_size=128, width=0.5),
                      checkpoint_dir="runs/knet4-ia")    # resumes if the directory holds a run
    trainer.network.recorded                             # what the observables measure
    result = trainer.fit(observe_at=[0, 50, 100], on_observe=measure, on_progress=bar)

The learning rate and its schedule: `lrsim.schedules`; the compiled step: `lrsim.step`.

Checkpoints (`lrsim.checkpoints`) are written at the end of every epoch, after the
observation hooks of that step have run; a run that finds one resumes from it exactly (same
weights, B, optimizer slots, schedule position, seed-generator states and data order).
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf

import lrsim
from lrsim.architectures import ARCHITECTURES, Network, build_network
from lrsim.checkpoints import (
    CheckpointError,
    latest_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from lrsim.rules import RULES, get_rule
from lrsim.schedules import learning_rate, learning_rate_schedule
from lrsim.spec import RunSpec, check_training_settings
from lrsim.step import make_train_steps
from lrsim.tasks.base import Task

__all__ = ["Progress", "TrainConfig", "TrainResult", "Trainer", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """What to train: everything that determines the run's trajectory, plus bookkeeping.

    `base_learning_rate` is at batch size 256 (None: the tuned rate, else `BASE_LEARNING_RATES`). Seeds set to
    None are drawn at the start and recorded. `rule_options` and `architecture_options` are
    keyword arguments of `get_rule` and `build_network` (JSON values).
    """

    architecture: str
    rule: str
    epochs: int
    batch_size: int = 256
    width: float = 1.0
    model_seed: int | None = 0
    dataset_seed: int | None = None
    base_learning_rate: float | None = None
    schedule: str = "step"
    rule_options: Mapping[str, Any] = field(default_factory=dict)
    architecture_options: Mapping[str, Any] = field(default_factory=dict)
    #: evaluate the task metric every this many epochs (the last epoch always)
    evaluate_every: int = 1
    #: checkpoints kept on disk (newest first)
    keep_checkpoints: int = 2

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise KeyError(f"unknown architecture {self.architecture!r}; known: {', '.join(ARCHITECTURES)}")
        if self.rule not in RULES:
            raise KeyError(f"unknown learning rule {self.rule!r}; known: {', '.join(RULES)}")
        check_training_settings(epochs=self.epochs, batch_size=self.batch_size, width=self.width,
                                base_lr=self.base_learning_rate, schedule=self.schedule,
                                model_seed=self.model_seed, dataset_seed=self.dataset_seed)
        for name in ("evaluate_every", "keep_checkpoints"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {value!r}")

    @classmethod
    def from_spec(cls, spec: RunSpec, **bookkeeping: Any) -> TrainConfig:
        """The training part of a run spec (its `base_lr` is `base_learning_rate` here), with
        `bookkeeping` fields (`evaluate_every`, `keep_checkpoints`) where given."""
        return cls(architecture=spec.architecture, rule=spec.rule, epochs=spec.epochs, batch_size=spec.batch_size,
                   width=spec.width, model_seed=spec.model_seed, dataset_seed=spec.dataset_seed,
                   base_learning_rate=spec.base_lr, schedule=spec.schedule, rule_options=dict(spec.rule_options),
                   **bookkeeping)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the configuration."""
        out = dataclasses.asdict(self)
        out["rule_options"] = dict(self.rule_options)
        out["architecture_options"] = dict(self.architecture_options)
        return out


# fields that do not change the trajectory, so a resumed run may set them differently
_BOOKKEEPING = ("evaluate_every", "keep_checkpoints", "model_seed", "dataset_seed")


class Progress(NamedTuple):
    """What the progress callback receives."""

    epoch: float  # training progress in epochs (global step / steps per epoch)
    step: int  # global step (optimizer updates so far)
    total_steps: int
    loss: float  # mean task loss over the steps since the last report
    metric: float | None  # latest task metric (None before the first evaluation)
    eta_seconds: float  # estimated time to the end of the run


@dataclass(frozen=True)
class TrainResult:
    """How a run ended."""

    status: str  # "complete" | "diverged"
    status_detail: str
    final_loss: float | None  # mean task loss of the last epoch (the non-finite value if diverged)
    final_metric: float | None
    metric_name: str
    model_seed: int
    dataset_seed: int
    epochs_completed: int
    global_step: int
    learning_rate: float  # initial learning rate after batch-size scaling
    history: tuple[dict[str, Any], ...]  # per epoch: epoch, step, loss, metric, evaluated
    initial_metric: float | None = None  # the task metric before any update
    initial_loss: float | None = None  # the task loss before any update (first batches, inference mode)

    @property
    def learning_curve(self) -> list[dict[str, Any]]:
        """The evaluations in order: the initialisation (epoch 0), then each evaluated epoch."""
        start = [] if self.initial_metric is None else [
            {"epoch": 0.0, "metric": self.initial_metric, "loss": self.initial_loss}]
        return start + [
            {"epoch": float(h["epoch"]), "metric": h["metric"], "loss": h["loss"]}
            for h in self.history if h.get("evaluated", True)
        ]


class Trainer:
    """Trains `task` with one rule and architecture; resumes from `checkpoint_dir` if it can.

    The network is built (and, when resuming, restored) on construction, so
    `trainer.network` can be measured before `fit` runs. A run interrupted (KeyboardInterrupt
    or a killed process) resumes by constructing a new Trainer on the same directory.
    """

    def __init__(
        self,
        task: Task,
        config: TrainConfig,
        checkpoint_dir: str | Path | None = None,
        resume: bool = True,
    ) -> None:
        tf.config.experimental.enable_op_determinism()
        self.task = task
        self.config = config
        self.checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)
        self.rule = get_rule(config.rule, **dict(config.rule_options))

        state = None
        found = latest_checkpoint(self.checkpoint_dir) if self.checkpoint_dir is not None else None
        if found is not None:
            if not resume:
                raise FileExistsError(
                    f"{self.checkpoint_dir} already holds checkpoints of a run ({found.name}); pass resume=True "
                    "to continue it, or choose an empty directory"
                )
            state = load_checkpoint(found)
            self._check_resumable(found, state[1])

        meta = state[1] if state is not None else {}
        self.model_seed = int(meta.get("model_seed", _seed_or_draw(config.model_seed)))
        self.dataset_seed = int(meta.get("dataset_seed", _seed_or_draw(config.dataset_seed)))

        self.steps_per_epoch = int(task.steps_per_epoch(config.batch_size))
        if self.steps_per_epoch < 1:
            raise ValueError(
                f"task {task.name!r} has no full batch of {config.batch_size} examples per epoch; lower batch_size"
            )
        self.total_steps = config.epochs * self.steps_per_epoch

        self.network: Network = build_network(
            config.architecture,
            tuple(task.input_shape),
            task.num_outputs,
            width=config.width,
            credit=self.rule.credit,
            seed=self.model_seed,
            **dict(config.architecture_options),
        )
        self.model = self.network.model
        self.learning_rate = learning_rate(
            config.architecture, self.rule.optimizer, config.batch_size, config.base_learning_rate,
            task=task.name, rule=config.rule,
        )
        saved_rate = meta.get("learning_rate")
        if saved_rate is not None and not math.isclose(float(saved_rate), self.learning_rate, rel_tol=1e-9):
            raise CheckpointError(
                f"checkpoint {found} was trained at learning rate {saved_rate:.6g}, but this configuration now gives "
                f"{self.learning_rate:.6g} (the tuned rates in lrsim/regimes.json changed?); finish it with "
                "base_learning_rate set to its rate at batch 256, or start it again in another directory"
            )
        self.optimizer = self.rule.make_optimizer(
            learning_rate_schedule(config.schedule, self.learning_rate, self.total_steps)
        )
        self.optimizer.build(self.model.trainable_variables)
        self._steps = make_train_steps(self.model, self.optimizer, lambda m, b: task.loss(m, b, training=True))

        self.global_step = 0
        self.epochs_completed = 0
        self.history: list[dict[str, Any]] = []
        #: the task metric before any update (None until `fit` measures it)
        self.initial_metric: float | None = None
        #: the mean task loss of the first training batches before any update (inference mode)
        self.initial_loss: float | None = None
        self._restored = state is not None
        if state is not None:
            self._restore(found, *state)

    # ------------------------------------------------------------------ state

    def _variables(self) -> dict[str, list[keras.Variable]]:
        return {"model": list(self.model.variables), "optimizer": list(self.optimizer.variables)}

    def state_arrays(self) -> dict[str, np.ndarray]:
        """Every model and optimizer variable, keyed ``model.0000``, ``optimizer.0000``..."""
        return {
            f"{group}.{i:04d}": np.asarray(v.numpy())
            for group, variables in self._variables().items()
            for i, v in enumerate(variables)
        }

    def _layout(self) -> dict[str, list[list[Any]]]:
        """Shape and dtype of every saved variable, in order (Keras paths carry per-process
        counters, so they are saved for reading but not compared)."""
        return {
            group: [[list(v.shape), str(np.dtype(v.dtype))] for v in variables]
            for group, variables in self._variables().items()
        }

    def _check_resumable(self, path: Path, meta: Mapping[str, Any]) -> None:
        saved = meta.get("config", {})
        current = self.config.to_dict()
        differ = sorted(
            key for key in set(saved) | set(current) if key not in _BOOKKEEPING and saved.get(key) != current.get(key)
        )
        for key in ("model_seed", "dataset_seed"):
            if current[key] is not None and current[key] != meta.get(key):
                differ.append(key)
        if differ:
            details = ", ".join(
                f"{k}: checkpoint {saved.get(k, meta.get(k))!r} vs now {current.get(k)!r}" for k in differ
            )
            raise CheckpointError(
                f"checkpoint {path} belongs to a different run ({details}); use another checkpoint directory "
                "or the same configuration"
            )

    def _restore(self, path: Path, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> None:
        if meta.get("layout") != self._layout():
            raise CheckpointError(
                f"checkpoint {path}: its variables do not match the network and optimizer built for this "
                "configuration (different lrsim version?); resume it with the release that wrote it"
            )
        for group, variables in self._variables().items():
            for i, v in enumerate(variables):
                v.assign(arrays[f"{group}.{i:04d}"])
        self.global_step = int(meta["global_step"])
        self.epochs_completed = int(meta["epochs_completed"])
        self.history = list(meta.get("history", []))
        self.initial_metric = meta.get("initial_metric")
        self.initial_loss = meta.get("initial_loss")

    def save(self) -> Path:
        """Write the checkpoint of the current epoch boundary (atomically)."""
        if self.checkpoint_dir is None:
            raise ValueError("this Trainer has no checkpoint_dir")
        meta = {
            "producer": {"name": "lrsim", "version": lrsim.__version__},
            "config": self.config.to_dict(),
            "model_seed": self.model_seed,
            "dataset_seed": self.dataset_seed,
            "epochs_completed": self.epochs_completed,
            "global_step": self.global_step,
            "steps_per_epoch": self.steps_per_epoch,
            "history": self.history,
            "initial_metric": self.initial_metric,
            "initial_loss": self.initial_loss,
            "learning_rate": self.learning_rate,
            "layout": self._layout(),
            "paths": {group: [v.path for v in variables] for group, variables in self._variables().items()},
        }
        path = save_checkpoint(self.checkpoint_dir, self.epochs_completed, self.state_arrays(), meta)
        prune_checkpoints(self.checkpoint_dir, self.config.keep_checkpoints)
        return path

    # ------------------------------------------------------------------ training

    def fit(
        self,
        observe_at: Sequence[int] = (),
        on_observe: Callable[[int, int, float], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
        progress_every: int = 10,
    ) -> TrainResult:
        """Train to the configured number of epochs (from where a checkpoint left off).

        `observe_at`: global steps (0 = before any update, up to `total_steps`) at which
        `on_observe(index, global_step, epoch)` runs, `index` being the position in
        `observe_at` and `epoch` the fractional training progress; a step may fall
        mid-epoch. A resumed run skips the steps its checkpoint already passed.
        `on_progress(Progress)` runs every `progress_every` steps and at the end of every
        epoch. A non-finite loss or gradient stops the run with status "diverged" (the
        network keeps the weights of the diverging step; the last checkpoint is intact).
        """
        pending = self._pending_observations(observe_at, on_observe)
        if progress_every < 1:
            raise ValueError(f"progress_every must be a positive integer, got {progress_every!r}")
        if self.global_step == 0 and self.initial_metric is None:
            self.initial_metric = float(self.task.evaluate(self.model))
            self.initial_loss = self._initial_loss()
        metric = self.history[-1]["metric"] if self.history else None
        start_time, start_step = time.perf_counter(), self.global_step
        window: list[float] = []

        def report() -> None:
            if on_progress is None:
                return
            done = self.global_step - start_step
            elapsed = time.perf_counter() - start_time
            eta = elapsed / done * (self.total_steps - self.global_step) if done else math.nan
            loss = float(np.mean(window)) if window else math.nan
            on_progress(
                Progress(self.global_step / self.steps_per_epoch, self.global_step, self.total_steps, loss, metric, eta)
            )
            window.clear()

        self._observe(pending, on_observe)
        for epoch in range(self.epochs_completed, self.config.epochs):
            losses: list[float] = []
            batches = iter(self.task.train_batches(self.config.batch_size, self.dataset_seed, epoch))
            while len(losses) < self.steps_per_epoch:
                # steps up to the next observation point, progress report or epoch end, in one call
                count = self.steps_per_epoch - len(losses)
                if on_progress is not None:
                    count = min(count, progress_every - self.global_step % progress_every)
                if pending:
                    count = min(count, pending[0][0] - self.global_step)
                try:
                    task_losses, total_losses, finite = (t.numpy() for t in self._steps(batches, tf.constant(count)))
                except tf.errors.OutOfRangeError:
                    raise RuntimeError(
                        f"task {self.task.name!r} yielded fewer than steps_per_epoch={self.steps_per_epoch} "
                        f"batches in epoch {epoch}; its train_batches breaks the Task contract"
                    ) from None
                self.global_step += len(task_losses)
                diverged = self._divergence(float(task_losses[-1]), float(total_losses[-1]), finite)
                if diverged is not None:
                    return self._result("diverged", diverged, float(task_losses[-1]), None)
                taken = task_losses.tolist()
                losses.extend(taken)
                window.extend(taken)
                self._observe(pending, on_observe)
                if self.global_step % progress_every == 0 and len(losses) < self.steps_per_epoch:
                    report()
            if batches.get_next_as_optional().has_value():
                raise RuntimeError(
                    f"task {self.task.name!r} yielded more than steps_per_epoch={self.steps_per_epoch} "
                    f"batches in epoch {epoch}; its train_batches breaks the Task contract"
                )
            self.epochs_completed = epoch + 1
            last = self.epochs_completed == self.config.epochs
            evaluated = last or self.epochs_completed % self.config.evaluate_every == 0
            if evaluated:
                metric = float(self.task.evaluate(self.model))
            self.history.append(
                {
                    "epoch": self.epochs_completed,
                    "step": self.global_step,
                    "loss": float(np.mean(losses)),
                    "metric": metric,
                    "evaluated": evaluated,
                }
            )
            if self.checkpoint_dir is not None:
                self.save()
            report()
        final_loss = self.history[-1]["loss"] if self.history else None
        return self._result("complete", f"trained {self.config.epochs} epochs", final_loss, metric)

    def _initial_loss(self, batches: int = 10) -> float:
        """Mean task loss (inference mode) of the first `batches` training batches of epoch 0."""
        data = self.task.train_batches(self.config.batch_size, self.dataset_seed, 0).take(batches)
        return float(np.mean([float(self.task.loss(self.model, batch, training=False)) for batch in data]))

    def _pending_observations(
        self, observe_at: Sequence[int], on_observe: Callable[[int, int, float], None] | None
    ) -> list[tuple[int, int]]:
        steps = [int(s) for s in observe_at]
        if steps and on_observe is None:
            raise ValueError("observe_at was given without an on_observe callback")
        bad = [s for s in steps if not 0 <= s <= self.total_steps]
        if bad:
            raise ValueError(
                f"observe_at steps must lie in [0, {self.total_steps}] (epochs x steps per epoch), got {bad}"
            )
        done_through = self.global_step if (self._restored or self.global_step > 0) else -1
        return sorted((s, i) for i, s in enumerate(steps) if s > done_through)

    def epoch_at(self, step: int) -> float:
        """The (fractional) epoch a global step is at, as observations record it."""
        return step / self.steps_per_epoch

    def _observe(self, pending: list[tuple[int, int]], on_observe: Callable[[int, int, float], None] | None) -> None:
        while pending and pending[0][0] == self.global_step:
            step, index = pending.pop(0)
            assert on_observe is not None
            on_observe(index, step, self.epoch_at(step))

    def _divergence(self, task_loss: float, total_loss: float, finite: np.ndarray) -> str | None:
        where = f"at step {self.global_step} (epoch {self.global_step / self.steps_per_epoch:.3f})"
        if not math.isfinite(task_loss):
            return f"task loss became {task_loss} {where}"
        if not math.isfinite(total_loss):
            return f"layer-local or weight-decay loss became {total_loss} {where} (task loss {task_loss:.4g})"
        if not finite.all():
            names = [v.path for v, ok in zip(self.model.trainable_variables, finite, strict=True) if not ok]
            return f"non-finite gradient for {', '.join(names)} {where}"
        return None

    def _result(self, status: str, detail: str, final_loss: float | None, metric: float | None) -> TrainResult:
        return TrainResult(
            status=status,
            status_detail=detail,
            final_loss=final_loss,
            final_metric=metric,
            metric_name=self.task.metric_name,
            model_seed=self.model_seed,
            dataset_seed=self.dataset_seed,
            epochs_completed=self.epochs_completed,
            global_step=self.global_step,
            learning_rate=self.learning_rate,
            history=tuple(self.history),
            initial_metric=self.initial_metric,
            initial_loss=self.initial_loss,
        )


def train(
    task: Task,
    config: TrainConfig,
    checkpoint_dir: str | Path | None = None,
    **fit_options: Any,
) -> TrainResult:
    """Build a Trainer (resuming from `checkpoint_dir` if it holds a run) and fit it."""
    return Trainer(task, config, checkpoint_dir=checkpoint_dir).fit(**fit_options)


def _seed_or_draw(seed: int | None) -> int:
    return int(seed) if seed is not None else secrets.randbelow(2**31 - 1)
