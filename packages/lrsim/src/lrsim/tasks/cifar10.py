"""`cifar10`: CIFAR-10 through tensorflow-datasets (32x32x3, ten classes).

The task of the paper's KNet networks. Training images get the standard augmentation
(random crop of the image padded by 4 pixels, random horizontal flip); evaluation is on
the 10,000 test images. Prepare the data once with `lrsim run --task cifar10 --download`
or `tfds build cifar10`.
"""

from __future__ import annotations

import os

import tensorflow as tf

from lrsim.tasks.image import TFDSImageTask, pad_crop_flip


class Cifar10Task(TFDSImageTask):
    """Ten-class classification of 32x32 colour images, inputs in [0, 1]."""

    name = "cifar10"
    dataset = "cifar10"
    input_shape = (32, 32, 3)
    num_outputs = 10

    def __init__(self, *, data_dir: str | os.PathLike[str] | None = None, download: bool = False,
                 augment: bool = True, shuffle_buffer: int = 50_000, eval_examples: int | None = None) -> None:
        """`shuffle_buffer` 50,000 is the whole training split: a full shuffle every epoch."""
        self.augment = augment
        super().__init__(data_dir=data_dir, download=download, shuffle_buffer=shuffle_buffer,
                         eval_examples=eval_examples)

    def train_view(self, image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        view = self.eval_view(image)
        return pad_crop_flip(view, seed, pad=4) if self.augment else view
