"""ImageNet 2012 through tensorflow-datasets, at full size or downsampled.

- `imagenet`: TFDS `imagenet2012` (1,000 classes). Training uses an Inception-style random
  resized crop and a horizontal flip; evaluation resizes the shorter side to
  image_size / 0.875 and takes the central crop. `image_size` (default 224) sets the
  input resolution: smaller values make CPU-scale runs affordable. TFDS cannot download
  ImageNet: register at https://image-net.org, download ILSVRC2012_img_train.tar and
  ILSVRC2012_img_val.tar into <data_dir>/downloads/manual, then prepare it with
  `lrsim run --task imagenet --download` or `tfds build imagenet2012`.
- `imagenet32`, `imagenet64`: TFDS `imagenet_resized/32x32` and `imagenet_resized/64x64`
  (Chrabaszcz et al. 2017, the same 1.28 M images downsampled), downloaded automatically
  on request; for small runs. Training uses a padded random crop and a flip, like CIFAR-10.
Held-out data is the 50,000-image validation split; `eval_examples` caps it for speed.
"""

from __future__ import annotations

import os

import tensorflow as tf

from lrsim.tasks.image import TFDSImageTask, center_crop, default_pad, pad_crop_flip, random_resized_crop

IMAGENET_SPLITS = {"train": "train", "test": "validation"}


class ImageNetTask(TFDSImageTask):
    """Full ImageNet 2012 (TFDS `imagenet2012`) at a chosen input resolution."""

    name = "imagenet"
    dataset = "imagenet2012"
    splits = IMAGENET_SPLITS
    num_outputs = 1000

    def __init__(self, *, data_dir: str | os.PathLike[str] | None = None, download: bool = False,
                 image_size: int = 224, augment: bool = True, shuffle_buffer: int = 10_000,
                 eval_examples: int | None = None) -> None:
        """`shuffle_buffer` holds JPEG bytes (about 110 kB each): 10,000 is about 1.1 GB."""
        if image_size < 8:
            raise ValueError(f"image_size must be at least 8 pixels, got {image_size!r}")
        self.image_size = image_size
        self.input_shape = (image_size, image_size, 3)
        self.augment = augment
        super().__init__(data_dir=data_dir, download=download, shuffle_buffer=shuffle_buffer,
                         eval_examples=eval_examples)

    def eval_view(self, image: tf.Tensor) -> tf.Tensor:
        view = center_crop(tf.image.convert_image_dtype(image, tf.float32), self.image_size)
        return tf.ensure_shape(view, self.input_shape)

    def train_view(self, image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        if not self.augment:
            return self.eval_view(image)
        crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        view = random_resized_crop(tf.image.convert_image_dtype(image, tf.float32), crop_seed,
                                   (self.image_size, self.image_size))
        view = tf.image.stateless_random_flip_left_right(view, seed=flip_seed)
        return tf.ensure_shape(view, self.input_shape)


class ResizedImageNetTask(TFDSImageTask):
    """Downsampled ImageNet (TFDS `imagenet_resized/<r>x<r>`), r = 32 or 64."""

    splits = IMAGENET_SPLITS
    num_outputs = 1000
    resolutions = (32, 64)

    def __init__(self, resolution: int, *, data_dir: str | os.PathLike[str] | None = None,
                 download: bool = False, augment: bool = True, shuffle_buffer: int = 50_000,
                 eval_examples: int | None = None) -> None:
        if resolution not in self.resolutions:
            raise ValueError(f"resolution must be one of {self.resolutions} (TFDS imagenet_resized), "
                             f"got {resolution!r}")
        self.name = f"imagenet{resolution}"
        self.dataset = f"imagenet_resized/{resolution}x{resolution}"
        self.input_shape = (resolution, resolution, 3)
        self.augment = augment
        super().__init__(data_dir=data_dir, download=download, shuffle_buffer=shuffle_buffer,
                         eval_examples=eval_examples)

    def train_view(self, image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        view = self.eval_view(image)
        return pad_crop_flip(view, seed, pad=default_pad(self.input_shape[0])) if self.augment else view
