"""Supervised image classification, and the image source that SimCLR wraps.

An `ImageTask` reads (image, label) pairs from an image source and turns images into
network inputs in two views: `eval_view` (deterministic: evaluation, probe inputs, the
linear probe of SimCLR) and `train_view` (the supervised training augmentation).
`normalize` runs last on every input. SimCLR reads the same source and replaces
`train_view` by its own augmentations, so every image task has a SimCLR form.
"""

from __future__ import annotations

import math
import os
from abc import abstractmethod
from typing import Any, ClassVar, Literal

import keras
import numpy as np
import tensorflow as tf

from lrsim.tasks import common, tfds_data
from lrsim.tasks.base import Task

Split = Literal["train", "test"]


class ImageTask(Task):
    """Supervised classification of images; also the image source of `simclr:<name>`."""

    kind = "supervised"
    metric_name = "top1_accuracy"
    #: size of the training split (one epoch)
    num_train_examples: int
    #: size of the held-out split (evaluation and probe inputs)
    num_test_examples: int
    #: held-out examples to evaluate on (None = all of the held-out split)
    eval_examples: int | None = None
    #: probe inputs are drawn from the first `probe_pool` held-out examples
    probe_pool: int = 10_000
    #: SimCLR augmentation settings that suit this source (override the SimCLR defaults)
    simclr_defaults: ClassVar[dict[str, Any]] = {}
    #: the source is arrays in memory (nothing to read or decode), so batches are made on
    #: demand, without a prefetch buffer (`common.fixed_pipeline`)
    in_memory: ClassVar[bool] = False

    @abstractmethod
    def source_train(self, dataset_seed: int, epoch: int) -> tf.data.Dataset:
        """(image, label) pairs of the training split, shuffled by (dataset_seed, epoch)."""

    @abstractmethod
    def source_labelled(self, split: Split, limit: int | None = None,
                        indices: np.ndarray | None = None) -> tf.data.Dataset:
        """(image, label) pairs of a split in a fixed order: the first `limit`, or those at sorted `indices`."""

    def eval_view(self, image: tf.Tensor) -> tf.Tensor:
        """The deterministic input view of a source image: float32 in [0, 1], `input_shape`.
        This default is elementwise, so it also takes a whole batch (leading axes of any size)."""
        image = tf.image.convert_image_dtype(image, tf.float32)
        leading = (None,) * (image.shape.rank - len(self.input_shape))
        return tf.ensure_shape(image, (*leading, *self.input_shape))

    def train_view(self, image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        """The supervised training view of a source image (default: no augmentation)."""
        del seed
        return self.eval_view(image)

    def normalize(self, inputs: tf.Tensor) -> tf.Tensor:
        """Maps [0, 1] images to network inputs (default: unchanged). It is given one image or a
        whole batch (tasks without augmentation take their views per batch), so it must be elementwise
        or broadcast over leading axes."""
        return inputs

    def steps_per_epoch(self, batch_size: int) -> int:
        return common.steps_for(self.name, batch_size, self.num_train_examples)

    def train_batches(self, batch_size: int, dataset_seed: int, epoch: int) -> tf.data.Dataset:
        self.steps_per_epoch(batch_size)
        source = self.source_train(dataset_seed, epoch)
        # tf.data runs a map function on its thread pool, once per element: for the small in-memory
        # digits that hand-off cost a knet4 run a third of its CPU time, and two runs side by side on
        # two cores used only 1.6 of them. The default views are elementwise: whole batches take them.
        if self._keeps_default("train_view") and self._keeps_default("eval_view"):
            ds = source.batch(batch_size, drop_remainder=True).map(
                lambda images, labels: (self.normalize(self.eval_view(images)), labels))
        else:
            augment_seed = common.derive_seed(dataset_seed, epoch, "augment")
            ds = common.map_with_seeds(
                source, lambda example, seed: (self.normalize(self.train_view(example[0], seed)), example[1]),
                augment_seed).batch(batch_size, drop_remainder=True)
        return common.fixed_pipeline(ds, prefetch=not self.in_memory)

    def _keeps_default(self, view: str) -> bool:
        """Whether this task keeps ImageTask's `view`, which takes a whole batch as well as one image."""
        return getattr(type(self), view) is getattr(ImageTask, view)

    def loss(self, model: keras.Model, batch: Any, training: bool = True) -> tf.Tensor:
        return common.supervised_loss(model, batch, training)

    def labelled_inputs(self, split: Split, limit: int | None, batch_size: int) -> tf.data.Dataset:
        """Batches of (eval-view inputs, labels) of a split, in a fixed order."""
        source = self.source_labelled(split, limit)
        if self._keeps_default("eval_view"):
            ds = source.batch(batch_size).map(lambda images, labels: (self.normalize(self.eval_view(images)), labels))
        else:
            ds = source.map(lambda image, label: (self.normalize(self.eval_view(image)), label),
                            num_parallel_calls=tf.data.AUTOTUNE).batch(batch_size)
        return common.fixed_pipeline(ds, prefetch=not self.in_memory)

    def evaluate(self, model: keras.Model, batch_size: int = 256) -> float:
        return common.top1_accuracy(model, self.labelled_inputs("test", self.eval_examples, batch_size))

    def probe_inputs(self, n: int, seed: int = 0) -> np.ndarray:
        pool = min(self.probe_pool, self.num_test_examples)
        indices = common.choose_probe_indices(pool, n, seed, self.name)
        ds = self.source_labelled("test", indices=indices)
        ds = ds.map(lambda image, _: self.normalize(self.eval_view(image))).batch(n)
        return np.asarray(next(iter(common.fixed_pipeline(ds, prefetch=False))), dtype=np.float32)


class TFDSImageTask(ImageTask):
    """An image classification dataset read through tensorflow-datasets.

    Each epoch reads the training files in an order drawn from (dataset_seed, epoch), then
    shuffles still-encoded images in blocks of `shuffle_buffer` by a permutation drawn from
    the same pair; images are decoded after. Held-out data is read in stored order.
    """

    #: TFDS name, e.g. "cifar10", "imagenet_resized/32x32"
    dataset: str
    #: TFDS split names of the training and the held-out data
    splits: ClassVar[dict[str, str]] = {"train": "train", "test": "test"}

    def __init__(self, *, data_dir: str | os.PathLike[str] | None, download: bool, shuffle_buffer: int,
                 eval_examples: int | None) -> None:
        if shuffle_buffer < 1:
            raise ValueError(f"shuffle_buffer must be a positive integer, got {shuffle_buffer!r}")
        if eval_examples is not None and eval_examples < 1:
            raise ValueError(f"eval_examples must be a positive integer or None (all), got {eval_examples!r}")
        self.shuffle_buffer = shuffle_buffer
        self.eval_examples = eval_examples
        self.builder = tfds_data.load_builder(self.dataset, data_dir=data_dir, download=download, task=self.name)
        self._image_feature = self.builder.info.features["image"]
        self.num_train_examples = tfds_data.count_examples(self.builder, self.splits["train"])
        self.num_test_examples = tfds_data.count_examples(self.builder, self.splits["test"])

    def _decode(self, example: dict[str, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
        return self._image_feature.decode_example(example["image"]), example["label"]

    def source_train(self, dataset_seed: int, epoch: int) -> tf.data.Dataset:
        ds = tfds_data.shuffled_split(self.builder, self.splits["train"], shuffle_buffer=self.shuffle_buffer,
                                      dataset_seed=dataset_seed, epoch=epoch, skip_decoding=("image",))
        return ds.map(self._decode, num_parallel_calls=tf.data.AUTOTUNE)

    def source_labelled(self, split: Split, limit: int | None = None,
                        indices: np.ndarray | None = None) -> tf.data.Dataset:
        ds = tfds_data.read_split(self.builder, self.splits[split], file_seed=None, skip_decoding=("image",))
        ds = common.select_examples(ds, indices) if indices is not None else ds
        if limit is not None:
            ds = ds.take(limit)
        return ds.map(self._decode, num_parallel_calls=tf.data.AUTOTUNE)


def pad_crop_flip(image: tf.Tensor, seed: tf.Tensor, pad: int) -> tf.Tensor:
    """Random crop of a zero-padded image back to its size, then a random horizontal flip."""
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    height, width, channels = image.shape
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    cropped = tf.image.stateless_random_crop(padded, [height, width, channels], seed=crop_seed)
    return tf.image.stateless_random_flip_left_right(cropped, seed=flip_seed)


def random_crop_box(image: tf.Tensor, seed: tf.Tensor, area_range: tuple[float, float] = (0.08, 1.0),
                    aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3)) -> tf.Tensor:
    """Inception-style crop: a random box of the given area fraction and aspect ratio, not resized."""
    begin, box_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=seed,
        min_object_covered=0.1,
        aspect_ratio_range=aspect_ratio_range,
        area_range=area_range,
        max_attempts=100,
        use_image_if_no_bounding_boxes=True,
    )
    return tf.slice(image, begin, box_size)


def random_resized_crop(image: tf.Tensor, seed: tf.Tensor, size: tuple[int, int],
                        area_range: tuple[float, float] = (0.08, 1.0),
                        aspect_ratio_range: tuple[float, float] = (3 / 4, 4 / 3)) -> tf.Tensor:
    """`random_crop_box` resized to `size` (height, width); takes a float32 image of any size.

    Bilinear resizing, anti-aliased where the crop may be larger than `size`. A crop of an
    image no larger than `size` (static shape) can only be enlarged, and there the filter is
    the same bilinear interpolation up to float rounding, at more CPU, so it is left off there.
    """
    crop = random_crop_box(image, seed, area_range, aspect_ratio_range)
    height, width = image.shape[0], image.shape[1]
    enlarged_only = height is not None and width is not None and height <= size[0] and width <= size[1]
    return tf.image.resize(crop, size, method="bilinear", antialias=not enlarged_only)


def center_crop(image: tf.Tensor, size: int, crop_fraction: float = 0.875) -> tf.Tensor:
    """Resize the shorter side to size / crop_fraction, then take the central size x size."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = (size / crop_fraction) / tf.reduce_min(shape)
    resized_shape = tf.maximum(tf.cast(tf.math.ceil(shape * scale), tf.int32), size)
    resized = tf.image.resize(image, resized_shape, method="bilinear", antialias=True)
    offset = (resized_shape - size) // 2
    return tf.slice(resized, tf.concat([offset, [0]], 0), [size, size, tf.shape(image)[2]])


def default_pad(side: int) -> int:
    """Padding of the random crop: 4 pixels for 32 px images, scaled with the side."""
    return max(1, math.ceil(side / 8))

