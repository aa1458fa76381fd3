"""The training loop: every rule learns, runs resume exactly, hooks fire where asked,
divergence is reported, learning rates follow the table."""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from lrsim.architectures import ARCHITECTURES
from lrsim.checkpoints import CheckpointError, list_checkpoints, load_checkpoint
from lrsim.rules import RULES
from lrsim.training import (
    BASE_LEARNING_RATES,
    Progress,
    TrainConfig,
    Trainer,
    learning_rate,
    learning_rate_schedule,
    train,
)

# Chance on the digits is 0.10. Measured test accuracies of these short runs (seed 0, untuned
# rates: this task is not in the regime table), one after another in one fresh process:
#   knet4 width 1/2, 8 epochs: sgdm 0.94, adam 0.85, fa 0.56, ia 0.54, kp 0.88
#   resnet18 width 1/8, 3 epochs: sgdm 0.97, adam 0.80, fa 0.71, ia 0.68, kp 0.53
# Threshold: 3x chance.
LEARNS_ABOVE = 0.30


@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("architecture", ["knet4", "resnet18"])
def test_every_rule_learns_digits_well_above_chance_in_a_short_cpu_run(short_run, architecture, rule):
    run = short_run(architecture, rule)
    assert run.result.status == "complete"
    assert run.result.final_metric > LEARNS_ABOVE
    assert run.result.history[-1]["loss"] < run.result.history[0]["loss"]


def _state(trainer: Trainer) -> list[np.ndarray]:
    return [v.numpy() for v in trainer.model.variables] + [v.numpy() for v in trainer.optimizer.variables]


@pytest.mark.parametrize(("architecture", "rule", "width"), [("knet4", "ia", 0.25), ("alexnet", "adam", 0.0625)])
def test_interrupted_after_epoch_k_then_resumed_equals_the_uninterrupted_run(
    tmp_path, architecture, rule, width, digits_subset
):
    task = digits_subset(320)  # 10 steps of 32 per epoch
    config = TrainConfig(architecture, rule, epochs=3, batch_size=32, width=width, model_seed=1, dataset_seed=None)
    observe_at = [0, 5, 10, 15, 25, 30]

    calls_full: list[tuple] = []
    full = Trainer(task, config, checkpoint_dir=tmp_path / "full")
    result_full = full.fit(observe_at=observe_at, on_observe=lambda *c: calls_full.append(c))

    calls_cut: list[tuple] = []

    def interrupt(index: int, step: int, epoch: float) -> None:
        calls_cut.append((index, step, epoch))
        if step == 15:  # mid epoch 2, after the checkpoint of epoch 1
            raise KeyboardInterrupt

    cut = Trainer(task, dataclasses.replace(config, dataset_seed=full.dataset_seed), tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        cut.fit(observe_at=observe_at, on_observe=interrupt)
    assert [p.name for p in list_checkpoints(tmp_path / "cut")] == ["epoch-0001.npz"]
    assert not [p for p in (tmp_path / "cut").iterdir() if p.name.startswith(".")]
    _, meta = load_checkpoint(tmp_path / "cut" / "epoch-0001.npz")
    assert (meta["epochs_completed"], meta["global_step"]) == (1, 10)

    calls_resumed: list[tuple] = []
    resumed = Trainer(task, config, tmp_path / "cut")
    assert resumed.dataset_seed == full.dataset_seed  # drawn once, then read back from the checkpoint
    assert (resumed.epochs_completed, resumed.global_step) == (1, 10)
    result_resumed = resumed.fit(observe_at=observe_at, on_observe=lambda *c: calls_resumed.append(c))

    for a, b in zip(_state(full), _state(resumed), strict=True):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    assert result_resumed.history == result_full.history
    assert result_resumed.final_metric == result_full.final_metric
    assert calls_resumed == [c for c in calls_full if c[1] > 10]
    assert calls_cut == calls_full[:4]


WEIGHTS_IN_A_FRESH_PROCESS = """
import sys
if len(sys.argv) > 4:  # as a sweep worker: pinned to core argv[4] (unless "free"), one TensorFlow thread
    import os
    from lrsim.sweep.pinning import pin_process
    from lrsim.threads import configure_threads
    if sys.argv[4] != "free":
        pin_process(int(sys.argv[4]))
        assert os.sched_getaffinity(0) == {int(sys.argv[4])}
    configure_threads()
import numpy as np
sys.path.insert(0, sys.argv[1])
from conftest import TinyDigits
from lrsim.training import TrainConfig, Trainer
config = TrainConfig("knet4", "fa", epochs=1, batch_size=32, width=0.25, dataset_seed=int(sys.argv[2]))
trainer = Trainer(TinyDigits(n_train=160), config)
trainer.fit()
np.savez(sys.argv[3], *[v.numpy() for v in trainer.model.trainable_variables])
"""


def weights_in_a_fresh_process(out: Path, dataset_seed: int, core: int | str | None = None) -> list[np.ndarray]:
    """A 1-epoch knet4 run's trained weights, from a new Python process; with `core`, set up as a sweep
    worker: one TensorFlow thread, pinned to that core unless it is "free"."""
    pin = [] if core is None else [str(core)]
    subprocess.run([sys.executable, "-c", WEIGHTS_IN_A_FRESH_PROCESS, str(Path(__file__).parent),
                    str(dataset_seed), str(out), *pin], check=True, capture_output=True)
    with np.load(out) as saved:
        return [saved[key] for key in saved.files]


def test_a_run_repeated_in_a_fresh_process_is_bit_identical_and_the_dataset_seed_matters(tmp_path):
    a = weights_in_a_fresh_process(tmp_path / "a.npz", 3)
    b = weights_in_a_fresh_process(tmp_path / "b.npz", 3)
    c = weights_in_a_fresh_process(tmp_path / "c.npz", 4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


@pytest.mark.skipif(len(getattr(os, "sched_getaffinity", lambda pid: ())(0)) < 2,
                    reason="needs CPU affinity calls and 2 usable cores")
def test_a_run_pinned_to_one_core_is_bit_identical_to_one_free_to_use_every_core(tmp_path):
    """Sweep workers are pinned (lrsim.sweep.pinning). TensorFlow then sees one core where the free
    process sees several, which must not change its kernels or their order of summation."""
    free = weights_in_a_fresh_process(tmp_path / "free.npz", 3, core="free")
    pinned = weights_in_a_fresh_process(tmp_path / "pinned.npz", 3, core=max(os.sched_getaffinity(0)))
    assert all(np.array_equal(x, y) for x, y in zip(free, pinned, strict=True))


def test_runs_repeated_in_one_process_agree_to_1e_6_and_the_dataset_seed_matters(digits_subset):
    # A later run in the same process may differ in the last bits: TensorFlow's oneDNN kernels
    # can sum in another order (not with oneDNN off).
    task = digits_subset(160)

    def weights(dataset_seed: int) -> list[np.ndarray]:
        trainer = Trainer(
            task, TrainConfig("knet4", "fa", epochs=1, batch_size=32, width=0.25, dataset_seed=dataset_seed)
        )
        trainer.fit()
        return [v.numpy() for v in trainer.model.trainable_variables]

    a, b, c = weights(3), weights(3), weights(4)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(y, x, rtol=0, atol=1e-6)
    assert not all(np.allclose(x, y, rtol=0, atol=1e-6) for x, y in zip(a, c, strict=True))


def test_observation_hooks_fire_at_arbitrary_steps_with_the_state_after_that_many_updates(digits_subset):
    task = digits_subset(320)
    trainer = Trainer(task, TrainConfig("knet4", "sgdm", epochs=2, batch_size=32, width=0.25, dataset_seed=0))
    seen = []

    def observe(index: int, step: int, epoch: float) -> None:
        seen.append((index, step, epoch, int(trainer.optimizer.iterations.numpy())))

    trainer.fit(observe_at=[0, 7, 10, 13, 20], on_observe=observe)
    assert seen == [(0, 0, 0.0, 0), (1, 7, 0.7, 7), (2, 10, 1.0, 10), (3, 13, 1.3, 13), (4, 20, 2.0, 20)]
    with pytest.raises(ValueError, match=r"must lie in \[0, 20\]"):
        trainer.fit(observe_at=[21], on_observe=observe)
    with pytest.raises(ValueError, match="without an on_observe"):
        trainer.fit(observe_at=[1])


def test_progress_callback_reports_epoch_step_loss_metric_and_eta(digits_subset):
    task = digits_subset(320)
    reports: list[Progress] = []
    result = train(
        task,
        TrainConfig("knet4", "sgdm", epochs=2, batch_size=32, width=0.25, dataset_seed=0),
        on_progress=reports.append,
        progress_every=4,
    )
    assert [r.step for r in reports] == [4, 8, 10, 12, 16, 20]
    assert [r.epoch for r in reports] == [0.4, 0.8, 1.0, 1.2, 1.6, 2.0]
    assert all(r.total_steps == 20 and math.isfinite(r.loss) and r.eta_seconds >= 0 for r in reports)
    assert reports[0].metric is None and reports[2].metric == result.history[0]["metric"]
    assert reports[-1].metric == result.final_metric and reports[-1].eta_seconds == 0


def test_a_diverging_run_stops_with_status_diverged_and_says_what_and_when(digits_subset):
    task = digits_subset(320)
    config = TrainConfig("knet4", "sgdm", epochs=3, batch_size=32, width=0.25, dataset_seed=0, base_learning_rate=1e6)
    result = train(task, config)
    assert result.status == "diverged"
    assert "step" in result.status_detail and "epoch" in result.status_detail
    assert any(word in result.status_detail for word in ("nan", "inf", "non-finite"))
    assert result.global_step < 30 and result.final_metric is None


def test_unseeded_run_draws_its_seeds_once_and_records_them(tmp_path, digits_subset):
    task = digits_subset(64)
    config = TrainConfig("knet4", "fa", epochs=1, batch_size=32, width=0.25, model_seed=None, dataset_seed=None)
    result = train(task, config, checkpoint_dir=tmp_path)
    _, meta = load_checkpoint(list_checkpoints(tmp_path)[-1])
    assert isinstance(result.model_seed, int) and isinstance(result.dataset_seed, int)
    assert (meta["model_seed"], meta["dataset_seed"]) == (result.model_seed, result.dataset_seed)
    assert meta["config"]["dataset_seed"] is None


def test_resume_refuses_a_checkpoint_of_another_run_and_resume_false_refuses_a_used_directory(tmp_path, digits_subset):
    task = digits_subset(64)
    config = TrainConfig("knet4", "fa", epochs=1, batch_size=32, width=0.25, dataset_seed=0)
    train(task, config, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match="rule: checkpoint 'fa' vs now 'ia'"):
        Trainer(task, TrainConfig("knet4", "ia", epochs=1, batch_size=32, width=0.25, dataset_seed=0), tmp_path)
    with pytest.raises(CheckpointError, match="dataset_seed"):
        Trainer(task, TrainConfig("knet4", "fa", epochs=1, batch_size=32, width=0.25, dataset_seed=9), tmp_path)
    with pytest.raises(FileExistsError, match="resume=True"):
        Trainer(task, config, tmp_path, resume=False)
    finished = Trainer(task, config, tmp_path)
    assert finished.epochs_completed == 1 and finished.fit().status == "complete"


def test_an_untuned_learning_rate_is_the_table_base_rescaled_with_batch_size(digits_subset):
    assert learning_rate("resnet18", "sgd_momentum", 256) == BASE_LEARNING_RATES["resnet18"]["sgd_momentum"] == 0.1
    assert learning_rate("resnet18", "sgd_momentum", 128) == pytest.approx(0.05)
    assert learning_rate("alexnet", "adam", 1024) == pytest.approx(2e-4)  # Adam: by the square root
    assert learning_rate("knet4", "sgd_momentum", 64, base_learning_rate=1.0) == pytest.approx(0.25)
    assert set(BASE_LEARNING_RATES) == set(ARCHITECTURES)
    trainer = Trainer(digits_subset(64), TrainConfig("resnet18", "ia", epochs=1, batch_size=32, width=0.0625))
    assert trainer.learning_rate == pytest.approx(0.1 * 32 / 256)


def test_learning_rate_schedules_step_down_or_anneal_over_the_run():
    assert learning_rate_schedule("constant", 0.1, 100) == 0.1
    step = learning_rate_schedule("step", 0.1, 100)
    assert [float(step(s)) for s in (0, 29, 31, 61, 91)] == pytest.approx([0.1, 0.1, 0.01, 0.001, 0.0001])
    cosine = learning_rate_schedule("cosine", 0.1, 100)
    assert [float(cosine(s)) for s in (0, 50, 100)] == pytest.approx([0.1, 0.05, 0.0], abs=1e-7)
    assert isinstance(step, keras.optimizers.schedules.LearningRateSchedule)
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        learning_rate_schedule("exponential", 0.1, 100)


def test_config_refuses_bad_values_with_the_fix(digits_subset):
    with pytest.raises(KeyError, match="known: resnet18"):
        TrainConfig("vgg", "fa", epochs=1)
    with pytest.raises(KeyError, match="known: sgdm"):
        TrainConfig("knet4", "backprop", epochs=1)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        TrainConfig("knet4", "fa", epochs=0)
    with pytest.raises(ValueError, match="dataset_seed must be a non-negative integer or None"):
        TrainConfig("knet4", "fa", epochs=1, dataset_seed=-1)
    with pytest.raises(ValueError, match="schedule must be one of"):
        TrainConfig("knet4", "fa", epochs=1, schedule="linear")
    with pytest.raises(ValueError, match="lower batch_size"):
        Trainer(digits_subset(16), TrainConfig("knet4", "fa", epochs=1, batch_size=32))


@pytest.mark.slow
@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("architecture", list(ARCHITECTURES))
def test_every_rule_trains_every_architecture(digits_subset, architecture, rule):
    trainer = Trainer(
        digits_subset(320),
        TrainConfig(architecture, rule, epochs=1, batch_size=32, width=0.125, dataset_seed=0, schedule="constant"),
    )
    kernels = [r.layer.kernel for r in trainer.network.recorded]
    feedback_before = [v.numpy().copy() for v in trainer.network.feedback_variables]
    kernels_before = [v.numpy().copy() for v in kernels]
    result = trainer.fit()
    assert result.status == "complete" and math.isfinite(result.final_loss)
    # every recorded layer learns (batch-norm scales may move by less than float32 resolves)
    for before, v in zip(kernels_before, kernels, strict=True):
        assert not np.array_equal(before, v.numpy()), v.path
    learned = trainer.rule.credit.feedback_trainable
    for before, v in zip(feedback_before, trainer.network.feedback_variables, strict=True):
        assert np.array_equal(before, v.numpy()) != learned, v.path


def test_a_diverging_run_stops_at_the_very_step_that_diverged_not_at_the_end_of_its_chunk(digits_subset):
    from lrsim.training import make_train_step

    task = digits_subset(320)
    config = TrainConfig("knet4", "sgdm", epochs=3, batch_size=32, width=0.25, model_seed=0, dataset_seed=0,
                         base_learning_rate=1e6)
    result = (trainer := Trainer(task, config)).fit()  # no observation or progress: one call per epoch
    reference = Trainer(task, config)
    step = make_train_step(reference.model, reference.optimizer, lambda m, b: task.loss(m, b, training=True))
    every_batch = itertools.chain.from_iterable(task.train_batches(config.batch_size, 0, epoch)
                                                for epoch in range(config.epochs))
    taken = 0
    for batch in every_batch:  # one step per call, until the first non-finite one
        task_loss, total, finite = step(batch)
        taken += 1
        if not (np.isfinite(float(task_loss)) and np.isfinite(float(total)) and finite.numpy().all()):
            break
    assert result.status == "diverged" and result.global_step == taken
    assert taken % task.steps_per_epoch(32) != 0  # it did stop inside an epoch's call
    for ours, theirs in zip(trainer.model.weights, reference.model.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize(("extra", "says"), [(-1, "fewer than"), (1, "more than")])
def test_a_task_yielding_another_number_of_batches_than_it_claims_is_named(digits_subset, extra, says):
    task = digits_subset(320)
    batches = task.train_batches
    steps = task.steps_per_epoch(32)
    task.train_batches = lambda batch_size, seed, epoch: batches(batch_size, seed, epoch).repeat(2).take(steps + extra)
    with pytest.raises(RuntimeError, match=f"yielded {says} steps_per_epoch=.*breaks the Task contract"):
        train(task, TrainConfig("knet4", "sgdm", epochs=1, batch_size=32, width=0.25, dataset_seed=0))
