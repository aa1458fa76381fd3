"""Every registered task honours the Task contract: digits as shipped, TFDS tasks on mocked data.

TFDS tasks run through `lrsim.tasks.testing.mock_prepared_dataset`: the dataset looks
prepared in a temporary data_dir (metadata only) and `tfds.testing.mock_data` generates
random examples, so the tasks load it by their real path with download=False. The mock
replaces TFDS's file reader; tiny datasets written as real TFRecord shards
(`write_fake_dataset`) check the reader path and the seeded file order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from lrsim.tasks import ImageTask, SimCLRTask, Task, common, get_task
from lrsim.tasks.testing import mock_prepared_dataset, write_fake_dataset

MOCK_EXAMPLES = 48
BATCH = 8
PROBES = 5

#: task name -> (TFDS dataset or None for bundled data, options)
CASES: dict[str, tuple[str | None, dict]] = {
    "digits": (None, {}),
    "simclr:digits": (None, {}),
    "cifar10": ("cifar10", {}),
    "imagenet": ("imagenet2012", {"image_size": 32}),
    "imagenet32": ("imagenet_resized/32x32", {}),
    "imagenet64": ("imagenet_resized/64x64", {}),
    "audio_words": ("speech_commands", {}),
    "simclr:cifar10": ("cifar10", {}),
    "simclr:imagenet": ("imagenet2012", {"image_size": 40}),  # > 32 px: blur and full colour jitter
}


@pytest.fixture
def tasks_load(tmp_path: Path) -> Iterator[Callable[[str], Task]]:
    """Builds a task of CASES; TFDS datasets are mocked until the test ends."""
    with contextlib.ExitStack() as stack:

        def load(name: str) -> Task:
            dataset, options = CASES[name]
            if dataset is None:
                return get_task(name, **options)
            data_dir = stack.enter_context(mock_prepared_dataset(dataset, tmp_path, num_examples=MOCK_EXAMPLES))
            return get_task(name, data_dir=data_dir, **options)

        yield load


def tiny_model(task: Task) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input(task.input_shape),
        keras.layers.Conv2D(4, 3, strides=2, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(task.num_outputs),
    ])


def epoch_arrays(task: Task, dataset_seed: int, epoch: int) -> list[np.ndarray]:
    """Every tensor of one epoch, flattened into a list in batch order."""
    return [np.asarray(t) for batch in task.train_batches(BATCH, dataset_seed, epoch) for t in tf.nest.flatten(batch)]


def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def labels_of(task: Task, dataset_seed: int, epoch: int) -> np.ndarray:
    return np.concatenate([np.asarray(y) for _, y in task.train_batches(BATCH, dataset_seed, epoch)])


@pytest.mark.parametrize("name", CASES)
def test_batches_follow_the_contract(tasks_load: Callable[[str], Task], name: str) -> None:
    task = tasks_load(name)
    assert task.name == name
    assert task.kind == ("contrastive" if name.startswith("simclr:") else "supervised")
    assert task.metric_name == ("linear_probe_accuracy" if task.kind == "contrastive" else "top1_accuracy")
    num_train = task.base.num_train_examples if isinstance(task, SimCLRTask) else task.num_train_examples
    if CASES[name][0] is not None:
        assert num_train == MOCK_EXAMPLES
    steps = task.steps_per_epoch(BATCH)
    assert steps == num_train // BATCH
    ds = task.train_batches(BATCH, dataset_seed=0, epoch=0)
    assert int(ds.cardinality()) == steps
    batches = list(ds)
    assert len(batches) == steps
    for batch in batches:
        if task.kind == "supervised":
            inputs, labels = batch
            views = [inputs]
            assert labels.shape == (BATCH,)
            assert np.all((labels.numpy() >= 0) & (labels.numpy() < task.num_outputs))
        else:
            views = list(batch)
            assert len(views) == 2
        for view in views:
            assert view.shape == (BATCH, *task.input_shape)
            assert view.dtype == tf.float32
            assert np.all(np.isfinite(view.numpy()))


@pytest.mark.parametrize("name", CASES)
def test_training_and_evaluation_pipelines_keep_order_and_do_not_autotune(
    tasks_load: Callable[[str], Task], name: str
) -> None:
    task = tasks_load(name)
    evaluated: list[tf.data.Dataset] = []
    outputs = common.model_outputs

    def record(model: keras.Model, batches: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
        evaluated.append(batches)
        return outputs(model, batches)

    with mock.patch.object(common, "model_outputs", record):
        task.evaluate(tiny_model(task), batch_size=16)
    assert evaluated
    for ds in [task.train_batches(BATCH, dataset_seed=0, epoch=0), *evaluated]:
        assert ds.options().deterministic is True
        # tf.data's autotuning thread made each iterator's teardown wait (~70 ms, several times a run)
        assert ds.options().autotune.enabled is False


@pytest.mark.parametrize("name", CASES)
def test_order_is_a_pure_function_of_seed_and_epoch(tasks_load: Callable[[str], Task], name: str) -> None:
    task = tasks_load(name)
    tf.random.set_seed(1)
    first = epoch_arrays(task, dataset_seed=3, epoch=2)
    tf.random.set_seed(2)  # a model seed must not move the data
    assert same(epoch_arrays(task, dataset_seed=3, epoch=2), first)
    assert same(epoch_arrays(tasks_load(name), dataset_seed=3, epoch=2), first)  # a fresh task, as on resume
    assert not same(epoch_arrays(task, dataset_seed=4, epoch=2), first)
    assert not same(epoch_arrays(task, dataset_seed=3, epoch=3), first)
    if task.kind == "supervised":
        # the same examples in another order
        order_a, order_b = labels_of(task, 3, 2), labels_of(task, 4, 2)
        full = task.steps_per_epoch(BATCH) * BATCH == task.num_train_examples
        if full:
            assert np.array_equal(np.sort(order_a), np.sort(order_b))
        assert not np.array_equal(order_a, order_b)


@pytest.mark.parametrize("name", CASES)
def test_probe_inputs_are_fixed_by_seed(tasks_load: Callable[[str], Task], name: str) -> None:
    task = tasks_load(name)
    probes = task.probe_inputs(PROBES, seed=0)
    assert probes.shape == (PROBES, *task.input_shape)
    assert probes.dtype == np.float32
    assert np.all(np.isfinite(probes))
    assert np.array_equal(task.probe_inputs(PROBES, seed=0), probes)
    assert not np.array_equal(task.probe_inputs(PROBES, seed=1), probes)
    held_out = (task.base if isinstance(task, SimCLRTask) else task).num_test_examples
    with pytest.raises(ValueError, match=f"has {held_out} held-out examples"):
        task.probe_inputs(held_out + 1)


@pytest.mark.parametrize("name", CASES)
def test_a_few_training_steps_lower_the_loss(tasks_load: Callable[[str], Task], name: str) -> None:
    task = tasks_load(name)
    model = tiny_model(task)
    optimizer = keras.optimizers.Adam(0.02)
    batch = next(iter(task.train_batches(BATCH, dataset_seed=0, epoch=0)))

    @tf.function
    def train_step(batch: object) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = task.loss(model, batch, training=True)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return loss

    before = float(task.loss(model, batch, training=False))
    losses = [float(train_step(batch)) for _ in range(8)]
    after = float(task.loss(model, batch, training=False))
    assert np.all(np.isfinite(losses))
    assert after < before
    metric = task.evaluate(model, batch_size=16)
    assert isinstance(metric, float)
    assert 0.0 <= metric <= 1.0


def test_the_mock_exercises_the_prepared_data_path(tmp_path: Path) -> None:
    """download=False on prepared data reads it and never calls download_and_prepare."""
    with mock_prepared_dataset("cifar10", tmp_path, num_examples=MOCK_EXAMPLES), mock.patch.object(
        tfds.core.DatasetBuilder, "download_and_prepare", side_effect=AssertionError("must not download")
    ), mock.patch.object(tfds.core.DatasetBuilder, "is_prepared", autospec=True,
                         side_effect=tfds.core.DatasetBuilder.is_prepared) as is_prepared:
        task = get_task("cifar10", data_dir=tmp_path)
        assert is_prepared.call_count == 1
        assert task.builder.data_dir.startswith(str(tmp_path))
        assert task.num_train_examples == MOCK_EXAMPLES


def test_download_true_prepares_the_dataset(tmp_path: Path) -> None:
    """download=True on a data_dir without the dataset calls TFDS's download_and_prepare."""
    with tfds.testing.mock_data(num_examples=MOCK_EXAMPLES, data_dir=str(tmp_path)), mock.patch.object(
        tfds.core.DatasetBuilder, "download_and_prepare", autospec=True
    ) as download_and_prepare:
        task = get_task("cifar10", data_dir=tmp_path, download=True)
        download_and_prepare.assert_called_once()
        assert isinstance(task, ImageTask)
        assert task.num_train_examples == MOCK_EXAMPLES


#: TFDS tasks read from real (random) TFRecord files: one per reader path (PNG, JPEG, audio)
REAL_FILE_CASES: dict[str, tuple[str, dict]] = {
    "cifar10": ("cifar10", {}),
    "imagenet": ("imagenet2012", {"image_size": 32}),
    "audio_words": ("speech_commands", {}),
}
SHARD = 8
SHARDS = 3


@pytest.mark.parametrize("name", REAL_FILE_CASES)
def test_real_tfds_files_are_read_in_an_order_drawn_from_the_seed(tmp_path: Path, name: str) -> None:
    dataset, options = REAL_FILE_CASES[name]
    write_fake_dataset(dataset, tmp_path, examples_per_shard=SHARD, num_shards=SHARDS)
    stored = [int(e["label"]) for e in tfds.builder(dataset, data_dir=str(tmp_path)).as_dataset(split="train")]
    shards = sorted(tuple(stored[i * SHARD:(i + 1) * SHARD]) for i in range(SHARDS))
    with mock.patch.object(tfds.core.DatasetBuilder, "download_and_prepare", side_effect=AssertionError("no")):
        task = get_task(name, data_dir=tmp_path, **options)
        files_only = get_task(name, data_dir=tmp_path, shuffle_buffer=1, **options)
    assert (task.num_train_examples, task.num_test_examples) == (SHARD * SHARDS, SHARD * SHARDS)

    # With a shuffle buffer of one, an epoch is the shards, whole, in an order drawn from the seed.
    file_orders = set()
    for seed in range(6):
        labels = labels_of(files_only, seed, 0)
        blocks = tuple(tuple(labels[i * SHARD:(i + 1) * SHARD]) for i in range(SHARDS))
        assert sorted(blocks) == shards
        file_orders.add(blocks)
    assert len(file_orders) > 1

    tf.random.set_seed(1)
    first = epoch_arrays(task, dataset_seed=5, epoch=0)
    tf.random.set_seed(2)
    assert same(epoch_arrays(task, dataset_seed=5, epoch=0), first)
    assert not same(epoch_arrays(task, dataset_seed=6, epoch=0), first)
    assert sorted(labels_of(task, 5, 0)) == sorted(stored)
    assert task.probe_inputs(PROBES, seed=0).shape == (PROBES, *task.input_shape)
    assert 0.0 <= task.evaluate(tiny_model(task), batch_size=16) <= 1.0
