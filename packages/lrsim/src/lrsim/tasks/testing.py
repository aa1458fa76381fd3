"""Run TFDS tasks without their data: for tests, CI and the engine's own tests.

`mock_prepared_dataset` makes a dataset look prepared in a data directory (it writes
the metadata files TFDS writes, no examples) and lets `tfds.testing.mock_data` generate
random examples from the dataset's feature spec. Tasks then load it through their real
code path: `tfds.builder(...)`, `is_prepared()` and `as_dataset(...)`, with download=False.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

import tensorflow_datasets as tfds


def write_metadata(dataset: str, data_dir: str | os.PathLike[str], num_examples: int,
                   splits: Sequence[str] = ("train", "validation", "test")) -> str:
    """Write `dataset_info.json` and `features.json` of a dataset with `num_examples` per split.

    Returns the variant directory written (<data_dir>/<name>[/<config>]/<version>).
    """
    builder = tfds.builder(dataset, data_dir=os.fspath(data_dir))
    builder.info.set_splits(tfds.core.SplitDict([
        tfds.core.SplitInfo(
            name=split,
            shard_lengths=[num_examples],
            num_bytes=0,
            filename_template=tfds.core.ShardedFileTemplate(
                data_dir=builder.data_path, dataset_name=builder.name, split=split, filetype_suffix="tfrecord"),
        )
        for split in splits
    ]))
    builder.data_path.mkdir(parents=True, exist_ok=True)
    builder.info.write_to_directory(builder.data_path)
    return os.fspath(builder.data_path)


@contextlib.contextmanager
def mock_prepared_dataset(dataset: str, data_dir: str | os.PathLike[str], num_examples: int = 48,
                          splits: Sequence[str] = ("train", "validation", "test")) -> Iterator[str]:
    """Inside: `dataset` is prepared in `data_dir` and every split yields `num_examples` random examples.

    TFDS's mock replaces any data_dir a builder is given by this one. Yields data_dir.
    """
    write_metadata(dataset, data_dir, num_examples, splits)
    with tfds.testing.mock_data(num_examples=num_examples, data_dir=os.fspath(data_dir)):
        yield os.fspath(data_dir)
