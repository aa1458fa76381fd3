"""Run TFDS tasks without their data: for tests, CI and the engine's own tests.

- `mock_prepared_dataset` makes a dataset look prepared in a data directory (it writes
  the metadata files TFDS writes, no examples) and lets `tfds.testing.mock_data` generate
  random examples from the dataset's feature spec.
- `write_fake_dataset` writes a small dataset of random examples as real TFDS files
  (sharded TFRecords and metadata), so that TFDS's own reader runs, file order included.
Tasks then load either through their real code path: `tfds.builder(...)`,
`is_prepared()` and `as_dataset(...)`, with download=False.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

import tensorflow as tf
import tensorflow_datasets as tfds
from tensorflow_datasets.testing.mocking import RandomFakeGenerator

#: written for every dataset; a task reads the ones it knows
SPLITS = ("train", "validation", "test")


def _template(builder: tfds.core.DatasetBuilder, split: str) -> tfds.core.ShardedFileTemplate:
    return tfds.core.ShardedFileTemplate(data_dir=builder.data_path, dataset_name=builder.name, split=split,
                                         filetype_suffix="tfrecord")


def _write_info(builder: tfds.core.DatasetBuilder, shard_lengths: dict[str, list[int]]) -> str:
    builder.info.set_splits(tfds.core.SplitDict([
        tfds.core.SplitInfo(name=split, shard_lengths=lengths, num_bytes=0, filename_template=_template(builder, split))
        for split, lengths in shard_lengths.items()
    ]))
    builder.data_path.mkdir(parents=True, exist_ok=True)
    builder.info.write_to_directory(builder.data_path)
    return os.fspath(builder.data_path)


def write_metadata(dataset: str, data_dir: str | os.PathLike[str], num_examples: int,
                   splits: Sequence[str] = SPLITS) -> str:
    """Write `dataset_info.json` and `features.json` of a dataset with `num_examples` per split.

    Returns the variant directory written (<data_dir>/<name>[/<config>]/<version>).
    """
    builder = tfds.builder(dataset, data_dir=os.fspath(data_dir))
    return _write_info(builder, {split: [num_examples] for split in splits})


def write_fake_dataset(dataset: str, data_dir: str | os.PathLike[str], examples_per_shard: int = 8,
                       num_shards: int = 3, splits: Sequence[str] = SPLITS, seed: int = 0) -> str:
    """Write a prepared dataset of random examples drawn from the feature spec, as real TFDS files.

    Every split gets `num_shards` TFRecord shards of `examples_per_shard` examples.
    Returns the variant directory written.
    """
    builder = tfds.builder(dataset, data_dir=os.fspath(data_dir))
    features = builder.info.features
    builder.data_path.mkdir(parents=True, exist_ok=True)
    for offset, split in enumerate(splits):
        examples = iter(RandomFakeGenerator(features, examples_per_shard * num_shards, seed=seed + offset))
        for shard in range(num_shards):
            path = _template(builder, split).sharded_filepath(shard_index=shard, num_shards=num_shards)
            with tf.io.TFRecordWriter(os.fspath(path)) as writer:
                for _ in range(examples_per_shard):
                    writer.write(features.serialize_example(next(examples)))
    return _write_info(builder, {split: [examples_per_shard] * num_shards for split in splits})


@contextlib.contextmanager
def mock_prepared_dataset(dataset: str, data_dir: str | os.PathLike[str], num_examples: int = 48,
                          splits: Sequence[str] = SPLITS) -> Iterator[str]:
    """Inside: `dataset` is prepared in `data_dir` and every split yields `num_examples` random examples.

    TFDS's mock replaces any data_dir a builder is given by this one. Yields data_dir.
    """
    write_metadata(dataset, data_dir, num_examples, splits)
    with tfds.testing.mock_data(num_examples=num_examples, data_dir=os.fspath(data_dir)):
        yield os.fspath(data_dir)
