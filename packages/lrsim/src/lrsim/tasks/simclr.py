"""`simclr:<image task>`: self-supervised contrastive learning (SimCLR, Chen et al. 2020).

Every training image yields two independently augmented views: a random resized crop,
a random horizontal flip, colour distortion (brightness, contrast, saturation, hue with
probability 0.8, then greyscale with probability 0.2; skipped for one-channel images) and,
optionally, a Gaussian blur. The network's output is an embedding of `num_outputs`
dimensions (default 64); the loss is NT-Xent (normalised temperature-scaled cross
entropy) over the 2N views of a batch. The metric is the accuracy of a linear probe
(scikit-learn logistic regression on standardised, frozen embeddings) fit on labelled
training images and scored on held-out ones. Defaults follow Chen et al.: crop area
0.08..1, temperature 0.5, colour strength 1.0 and blur for images larger than 32 px,
colour strength 0.5 and no blur for CIFAR-sized ones; an image task may adjust them
for its data (digits: no flip, crop area 0.4..1).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from lrsim.tasks import common
from lrsim.tasks.base import Task
from lrsim.tasks.image import ImageTask, random_resized_crop

SIMCLR_PREFIX = "simclr:"


def nt_xent(z_a: tf.Tensor, z_b: tf.Tensor, temperature: float = 0.5) -> tf.Tensor:
    """NT-Xent loss of paired embeddings (N, d): view i of z_a is the positive of view i of z_b.

    Cosine similarities of all 2N views divided by the temperature; each view's loss is the
    cross-entropy of picking its partner among the other 2N - 1 views; the mean over 2N.
    """
    z = tf.math.l2_normalize(tf.cast(tf.concat([z_a, z_b], axis=0), tf.float32), axis=1)
    n = tf.shape(z_a)[0]
    logits = tf.matmul(z, z, transpose_b=True) / temperature
    logits -= 1e9 * tf.eye(2 * n)  # a view is not its own candidate
    partners = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], axis=0)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=partners, logits=logits))


def color_distortion(image: tf.Tensor, seed: tf.Tensor, strength: float) -> tf.Tensor:
    """SimCLR colour jitter (p = 0.8) then greyscale (p = 0.2) of an RGB image in [0, 1]."""
    seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 7))
    jitter = 0.8 * strength
    jittered = tf.image.stateless_random_brightness(image, jitter, seed=seeds[0])
    jittered = tf.image.stateless_random_contrast(jittered, 1 - jitter, 1 + jitter, seed=seeds[1])
    jittered = tf.image.stateless_random_saturation(jittered, max(0.0, 1 - jitter), 1 + jitter, seed=seeds[2])
    jittered = tf.image.stateless_random_hue(jittered, min(0.5, 0.2 * strength), seed=seeds[3])
    jittered = tf.clip_by_value(jittered, 0.0, 1.0)
    image = tf.where(tf.random.stateless_uniform([], seeds[4]) < 0.8, jittered, image)
    grey = tf.image.grayscale_to_rgb(tf.image.rgb_to_grayscale(image))
    return tf.where(tf.random.stateless_uniform([], seeds[5]) < 0.2, grey, image)


def gaussian_blur(image: tf.Tensor, seed: tf.Tensor, probability: float = 0.5) -> tf.Tensor:
    """With the given probability, blur by a Gaussian of sigma in [0.1, 2.0] px, kernel 10% of the side."""
    apply_seed, sigma_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    height, _, channels = image.shape
    radius = max(1, math.ceil(height * 0.1) // 2)
    sigma = tf.random.stateless_uniform([], sigma_seed, 0.1, 2.0)
    offsets = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-(offsets**2) / (2.0 * sigma**2))
    kernel /= tf.reduce_sum(kernel)
    vertical = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, channels, 1])
    horizontal = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, channels, 1])
    batch = image[tf.newaxis]
    blurred = tf.nn.depthwise_conv2d(batch, vertical, [1, 1, 1, 1], "SAME")
    blurred = tf.nn.depthwise_conv2d(blurred, horizontal, [1, 1, 1, 1], "SAME")[0]
    return tf.where(tf.random.stateless_uniform([], apply_seed) < probability, blurred, image)


class SimCLRTask(Task):
    """Contrastive learning over the images of an image task; metric: linear probe accuracy."""

    kind = "contrastive"
    metric_name = "linear_probe_accuracy"

    def __init__(self, base: ImageTask, *, embedding_dim: int = 64, temperature: float = 0.5,
                 crop_area: tuple[float, float] | None = None, flip: bool | None = None,
                 color_strength: float | None = None, blur: bool | None = None,
                 probe_train_examples: int = 10_000, probe_max_iter: int = 1000,
                 eval_examples: int | None = None) -> None:
        """Augmentation options left None take the base task's `simclr_defaults`, then Chen et al.'s."""
        if not isinstance(base, ImageTask):
            raise TypeError(f"SimCLR needs an image task; {getattr(base, 'name', base)!r} is not one")
        if embedding_dim < 1:
            raise ValueError(f"embedding_dim must be a positive integer, got {embedding_dim!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        side = base.input_shape[0]
        large = side > 32
        defaults: dict[str, Any] = {"crop_area": (0.08, 1.0), "flip": True,
                                    "color_strength": 1.0 if large else 0.5, "blur": large}
        defaults.update(base.simclr_defaults)
        given = {"crop_area": crop_area, "flip": flip, "color_strength": color_strength, "blur": blur}
        settings = {key: defaults[key] if value is None else value for key, value in given.items()}
        low, high = settings["crop_area"]
        if not 0 < low <= high <= 1:
            raise ValueError(f"crop_area must be (low, high) with 0 < low <= high <= 1, got {settings['crop_area']!r}")
        self.base = base
        self.name = SIMCLR_PREFIX + base.name
        self.input_shape = base.input_shape
        self.num_outputs = embedding_dim
        self.temperature = float(temperature)
        self.crop_area = (float(low), float(high))
        self.flip = bool(settings["flip"])
        self.color_strength = float(settings["color_strength"])
        self.blur = bool(settings["blur"])
        self.probe_train_examples = probe_train_examples
        self.probe_max_iter = probe_max_iter
        self.eval_examples = eval_examples

    def two_views(self, image: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Two independent views of one image. One split makes the seeds of both, because each
        split is several TensorFlow ops per image."""
        seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 8))
        return self.view(image, seeds[:4]), self.view(image, seeds[4:])

    def view(self, image: tf.Tensor, seeds: list[tf.Tensor]) -> tf.Tensor:
        """One SimCLR view of a source image, as a network input, from its crop, flip, colour and blur seeds."""
        crop_seed, flip_seed, color_seed, blur_seed = seeds
        height, width, channels = self.input_shape
        view = random_resized_crop(tf.image.convert_image_dtype(image, tf.float32), crop_seed, (height, width),
                                   area_range=self.crop_area)
        if self.flip:
            view = tf.image.stateless_random_flip_left_right(view, seed=flip_seed)
        if channels == 3 and self.color_strength > 0:
            view = color_distortion(view, color_seed, self.color_strength)
        if self.blur:
            view = gaussian_blur(view, blur_seed)
        return self.base.normalize(tf.ensure_shape(view, self.input_shape))

    def steps_per_epoch(self, batch_size: int) -> int:
        return common.steps_for(self.name, batch_size, self.base.num_train_examples)

    def train_batches(self, batch_size: int, dataset_seed: int, epoch: int) -> tf.data.Dataset:
        """Batches of (views_a, views_b), each (batch_size, *input_shape)."""
        self.steps_per_epoch(batch_size)
        augment_seed = common.derive_seed(dataset_seed, epoch, "augment")
        ds = common.map_with_seeds(self.base.source_train(dataset_seed, epoch),
                                   lambda example, seed: self.two_views(example[0], seed), augment_seed)
        return common.fixed_pipeline(ds.batch(batch_size, drop_remainder=True), prefetch=not self.base.in_memory)

    def loss(self, model: keras.Model, batch: Any, training: bool = True) -> tf.Tensor:
        views_a, views_b = batch
        embeddings = model(tf.concat([views_a, views_b], axis=0), training=training)
        z_a, z_b = tf.split(embeddings, 2, axis=0)
        return nt_xent(z_a, z_b, self.temperature)

    def evaluate(self, model: keras.Model, batch_size: int = 256) -> float:
        """Linear probe accuracy on frozen embeddings; NaN when the embeddings are not finite."""
        train_x, train_y = common.model_outputs(
            model, self.base.labelled_inputs("train", self.probe_train_examples, batch_size))
        test_x, test_y = common.model_outputs(model, self.base.labelled_inputs("test", self.eval_examples, batch_size))
        return linear_probe_accuracy(train_x, train_y, test_x, test_y, max_iter=self.probe_max_iter)

    def probe_inputs(self, n: int, seed: int = 0) -> np.ndarray:
        return self.base.probe_inputs(n, seed)


def linear_probe_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                          max_iter: int = 1000) -> float:
    """Accuracy on (test_x, test_y) of a logistic regression fit on standardised train_x."""
    if not (np.all(np.isfinite(train_x)) and np.all(np.isfinite(test_x))):
        return float("nan")
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))
    with warnings.catch_warnings():
        # Labels are class indices by construction; with many classes and few examples
        # scikit-learn would guess they might be regression targets.
        warnings.filterwarnings("ignore", message="The number of unique classes is greater than 50%",
                                category=UserWarning)
        probe.fit(train_x, train_y)
    return float(probe.score(test_x, test_y))


def is_simclr_name(name: str) -> bool:
    """Whether a task name asks for the SimCLR form of an image task."""
    return name.startswith(SIMCLR_PREFIX)

