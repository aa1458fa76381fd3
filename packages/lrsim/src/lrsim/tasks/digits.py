"""`digits`: scikit-learn's bundled 8x8 handwritten digits, the embedded default task.

The 1,797 images ship inside scikit-learn, so this task needs no download and no network:
tests, CI and a first run use it. A fixed, seeded, class-stratified split holds out
`test_fraction` of the images for evaluation and probe inputs. Pixels (0..16) are scaled
to [0, 1], like every image task's (standardised to mean 0 and std 1, they make feedback
alignment fail and information alignment diverge in short runs). Its SimCLR form is
`simclr:digits`.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from lrsim.tasks import common
from lrsim.tasks.image import ImageTask, Split


class DigitsTask(ImageTask):
    """Ten-class classification of 8x8x1 digit images."""

    name = "digits"
    input_shape = (8, 8, 1)
    num_outputs = 10
    #: digits are not mirror-symmetric and have few pixels to crop away
    simclr_defaults: ClassVar[dict[str, Any]] = {"flip": False, "crop_area": (0.4, 1.0)}
    in_memory = True

    def __init__(self, *, test_fraction: float = 0.2, split_seed: int = 0,
                 data_dir: str | os.PathLike[str] | None = None, download: bool = False) -> None:
        """`data_dir` and `download` are accepted like every task's; bundled data needs neither."""
        del data_dir, download
        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must lie strictly between 0 and 1, got {test_fraction!r}")
        digits = load_digits()
        images = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
        labels = digits.target.astype(np.int64)
        self.train_images, self.test_images, self.train_labels, self.test_labels = train_test_split(
            images, labels, test_size=test_fraction, random_state=split_seed, stratify=labels
        )
        self.num_train_examples = len(self.train_labels)
        self.num_test_examples = len(self.test_labels)

    def source_train(self, dataset_seed: int, epoch: int) -> tf.data.Dataset:
        order = np.random.default_rng(common.derive_seed(dataset_seed, epoch, "shuffle")).permutation(
            self.num_train_examples
        )
        return tf.data.Dataset.from_tensor_slices((self.train_images[order], self.train_labels[order]))

    def source_labelled(self, split: Split, limit: int | None = None,
                        indices: np.ndarray | None = None) -> tf.data.Dataset:
        images, labels = (self.train_images, self.train_labels) if split == "train" else (
            self.test_images, self.test_labels)
        if indices is not None:
            images, labels = images[indices], labels[indices]
        return tf.data.Dataset.from_tensor_slices((images[:limit], labels[:limit]))
