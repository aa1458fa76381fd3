"""Helpers shared by every task: seeds, batch sizes, the supervised loss and metric."""

from __future__ import annotations

import weakref
import zlib
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf


def derive_seed(dataset_seed: int, epoch: int, purpose: str) -> int:
    """A 31-bit seed that is a pure function of (dataset_seed, epoch, purpose).

    Separate purposes ("shuffle", "augment", ...) get independent streams, so changing how
    one is used never changes the others, and any epoch can be rebuilt on its own.
    """
    for label, value in (("dataset_seed", dataset_seed), ("epoch", epoch)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
            raise ValueError(f"{label} must be a non-negative integer, got {value!r}")
    sequence = np.random.SeedSequence([int(dataset_seed), int(epoch), zlib.crc32(purpose.encode())])
    return int(sequence.generate_state(1, dtype=np.uint32)[0] >> 1)


def steps_for(task_name: str, batch_size: int, num_examples: int) -> int:
    """Full batches in one pass over `num_examples` (the last partial batch is dropped)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    steps = num_examples // batch_size
    if steps == 0:
        raise ValueError(
            f"batch_size {batch_size} is larger than the {num_examples} training examples of task "
            f"{task_name!r}: no full batch fits in an epoch. Use a batch size of at most {num_examples}."
        )
    return steps


def fixed_pipeline(ds: tf.data.Dataset, *, prefetch: bool = True) -> tf.data.Dataset:
    """The end of every lrsim input pipeline: element order kept whatever the parallelism, no
    autotuning, and (unless `prefetch` is False) a prefetch buffer.

    tf.data's autotuning runs a model thread per iterator, and tearing an iterator down waits
    for it; a run makes a new iterator per epoch and per evaluation, so autotuning is off (the
    batches are the same either way). Parallel maps asked for `AUTOTUNE` then run
    `min(16, cores)` calls at a time.

    Prefetching overlaps reading and decoding with training. Data already in memory has
    nothing to overlap, and the prefetch thread is one more hand-off per batch, so in-memory
    tasks pass `prefetch=False`.
    """
    if prefetch:
        ds = ds.prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    options.autotune.enabled = False
    return ds.with_options(options)


def block_shuffle(ds: tf.data.Dataset, block_size: int, seed: int) -> tf.data.Dataset:
    """Shuffle within consecutive blocks of `block_size` elements by stateless permutations.

    A stand-in for `Dataset.shuffle(buffer)` whose order depends on `seed` alone:
    tf.data's seeded shuffle also mixes in the global TF seed, so the data order would
    change with the model seed. A block as large as the dataset is a full shuffle.
    Elements of variable shape are serialized for the shuffle and parsed back after.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, int | np.integer) or block_size < 1:
        raise ValueError(f"shuffle buffer (block) size must be a positive integer, got {block_size!r}")
    spec = ds.element_spec
    variable = tf.nest.map_structure(lambda s: not s.shape.is_fully_defined(), spec)

    def pack(*element: Any) -> Any:
        element = element[0] if len(element) == 1 else element
        return tf.nest.map_structure(lambda v, var: tf.io.serialize_tensor(v) if var else v, element, variable)

    def unpack(element: Any) -> Any:
        return tf.nest.map_structure(
            lambda v, s, var: tf.ensure_shape(tf.io.parse_tensor(v, s.dtype), s.shape) if var else v,
            element, spec, variable,
        )

    def permute(index: tf.Tensor, block: Any) -> Any:
        size = tf.shape(tf.nest.flatten(block)[0])[0]
        order = tf.argsort(tf.random.stateless_uniform([size], tf.stack([tf.constant(seed, tf.int64), index])))
        return tf.nest.map_structure(lambda v: tf.gather(v, order), block)

    size = int(ds.cardinality())
    ds = ds.map(pack).batch(block_size).enumerate().map(permute).unbatch().map(unpack)
    return ds.apply(tf.data.experimental.assert_cardinality(size)) if size >= 0 else ds


#: elements a per-element augmentation map keeps in flight (AUTOTUNE without autotuning: one per core)
AUGMENTED_IN_FLIGHT = 16


def map_with_seeds(ds: tf.data.Dataset, function: Callable[[Any, tf.Tensor], Any], base_seed: int) -> tf.data.Dataset:
    """`function(element, seed)` on every element, its stateless-op seed being (base_seed,
    position in the epoch). One map call per element: tf.data runs each call on its thread
    pool, and a separate call only to attach the seed would cost as much again. Up to
    AUGMENTED_IN_FLIGHT elements are made ahead of the batch that takes them, in order: with
    only one per core, the training thread would wait on nearly every element (the batches
    are the same either way)."""

    def seeded(index: tf.Tensor, element: Any) -> Any:
        return function(element, tf.stack([tf.constant(base_seed, tf.int64), index]))

    return ds.enumerate().map(seeded, num_parallel_calls=AUGMENTED_IN_FLIGHT)


def supervised_loss(model: keras.Model, batch: tuple[tf.Tensor, tf.Tensor], training: bool = True) -> tf.Tensor:
    """Mean sparse softmax cross-entropy of the model's logits against integer labels."""
    inputs, labels = batch
    logits = tf.cast(model(inputs, training=training), tf.float32)
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(labels, tf.int32), logits=logits)
    )


_INFERENCE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _inference(model: keras.Model) -> Callable[[tf.Tensor], tf.Tensor]:
    """The model's forward pass in inference mode, compiled once per model: a run evaluates
    after every epoch, and calling the model eagerly cost a knet4 digits run a fifth of its
    time (each layer dispatched from Python on every batch)."""
    if model not in _INFERENCE:
        held = weakref.ref(model)  # the entry must not keep its own key alive

        def forward(inputs: tf.Tensor) -> tf.Tensor:
            return tf.cast(held()(inputs, training=False), tf.float32)

        _INFERENCE[model] = tf.function(forward, reduce_retracing=True)
    return _INFERENCE[model]


def model_outputs(model: keras.Model, batches: tf.data.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The model's outputs (inference mode) and the labels over a dataset of (inputs, labels) batches."""
    forward = _inference(model)
    outputs, labels = [], []
    for inputs, batch_labels in batches:
        outputs.append(np.asarray(forward(inputs)))
        labels.append(np.asarray(batch_labels))
    if not outputs:
        raise ValueError("no held-out examples to evaluate on")
    return np.concatenate(outputs), np.concatenate(labels)


def top1_accuracy(model: keras.Model, batches: tf.data.Dataset) -> float:
    """Fraction of examples whose highest logit is the true class."""
    logits, labels = model_outputs(model, batches)
    return float(np.mean(np.argmax(logits, axis=1) == labels))


def choose_probe_indices(pool_size: int, n: int, seed: int, task_name: str) -> np.ndarray:
    """Sorted indices of n distinct held-out examples out of the first `pool_size`, chosen by seed."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"the number of probe inputs must be a positive integer, got {n!r}")
    if n > pool_size:
        raise ValueError(
            f"task {task_name!r} has {pool_size} held-out examples to draw probe inputs from; "
            f"{n} were asked for. Ask for at most {pool_size}."
        )
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(b"probe")]))
    return np.sort(rng.choice(pool_size, size=n, replace=False))


def select_examples(ds: tf.data.Dataset, indices: np.ndarray) -> tf.data.Dataset:
    """The elements of `ds` at the given sorted positions (reads only up to the last one)."""
    wanted = tf.constant(indices, tf.int64)
    return (
        ds.take(int(indices[-1]) + 1)
        .enumerate()
        .filter(lambda index, _: tf.reduce_any(tf.equal(index, wanted)))
        .map(lambda _, element: element)
    )
