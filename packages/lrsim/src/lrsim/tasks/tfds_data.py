"""Access to tensorflow-datasets: find a prepared dataset, or download it only when asked.

No machine running the tests reaches the internet, so nothing here downloads unless the
user passes `download=True` (`lrsim run ... --download`). A dataset that is not prepared
raises `DatasetNotFoundError`, whose message says where lrsim looked and how to fetch it.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from lrsim.tasks import common


class DatasetNotFoundError(FileNotFoundError):
    """A TFDS dataset a task needs is not prepared in the data directory searched."""

    def __init__(self, dataset: str, data_dir: str, task: str, variant_dir: str, manual_instructions: str | None,
                 explicit_data_dir: bool) -> None:
        self.dataset = dataset
        self.data_dir = data_dir
        self.task = task
        self.variant_dir = variant_dir
        self.manual_instructions = manual_instructions
        self.explicit_data_dir = explicit_data_dir
        super().__init__(self._message())

    @property
    def manual_dir(self) -> str:
        """Where TFDS expects manually downloaded files (its default, <data_dir>/downloads/manual)."""
        return os.path.join(self.data_dir, "downloads", "manual")

    def for_task(self, task: str) -> DatasetNotFoundError:
        """The same error, naming the task the user actually asked for (e.g. "simclr:cifar10")."""
        return DatasetNotFoundError(self.dataset, self.data_dir, task, self.variant_dir, self.manual_instructions,
                                    self.explicit_data_dir)

    def _message(self) -> str:
        lrsim_data_dir = f" --data-dir {self.data_dir}" if self.explicit_data_dir else ""
        lines = [
            f"TFDS dataset '{self.dataset}' (task '{self.task}') is not prepared in data_dir {self.data_dir} "
            f"(looked for {self.variant_dir}). lrsim never downloads data unless asked.",
        ]
        if self.manual_instructions:
            lines += [
                f"'{self.dataset}' needs a manual download first: put its files in {self.manual_dir} "
                "(TFDS's instructions follow), then run one of the commands below.",
                textwrap.indent(textwrap.dedent(self.manual_instructions).strip(), "    "),
            ]
        lines += [
            "Fetch and prepare it with:",
            f"    lrsim run --task {self.task} --download{lrsim_data_dir}",
            "or with TFDS's own tool:",
            f"    tfds build {self.dataset} --data_dir {self.data_dir}",
        ]
        return "\n".join(lines)


def _data_dir_root(builder: tfds.core.DatasetBuilder) -> str:
    """The data directory the builder searched (data_path is <root>/<name>[/<config>]/<version>)."""
    depth = len(Path(builder.info.full_name).parts)
    return os.fspath(Path(builder.data_path).parents[depth - 1])


def _manual_files_missing(builder: tfds.core.DatasetBuilder, manual_dir: str) -> bool:
    return bool(builder.MANUAL_DOWNLOAD_INSTRUCTIONS) and not (
        tf.io.gfile.isdir(manual_dir) and tf.io.gfile.listdir(manual_dir)
    )


def load_builder(dataset: str, *, data_dir: str | os.PathLike[str] | None, download: bool,
                 task: str) -> tfds.core.DatasetBuilder:
    """The TFDS builder of a prepared dataset; downloads and prepares it only if `download`.

    Raises DatasetNotFoundError when the dataset is absent and `download` is False, or when
    it needs files the user must download by hand (ImageNet) and they are not there yet.
    """
    builder = tfds.builder(dataset, data_dir=None if data_dir is None else os.fspath(data_dir))
    root = _data_dir_root(builder)

    def not_found() -> DatasetNotFoundError:
        return DatasetNotFoundError(dataset, root, task, os.fspath(builder.data_path),
                                    builder.MANUAL_DOWNLOAD_INSTRUCTIONS or None, data_dir is not None)

    if download:
        if not builder.is_prepared() and _manual_files_missing(builder, not_found().manual_dir):
            raise not_found()
        builder.download_and_prepare()
    elif not builder.is_prepared():
        raise not_found()
    return builder


def count_examples(builder: tfds.core.DatasetBuilder, split: str) -> int:
    """Number of examples in a split, as the reader will deliver them."""
    cardinality = int(builder.as_dataset(split=split).cardinality())
    if cardinality >= 0:
        return cardinality
    return int(builder.info.splits[split].num_examples)


def _file_order(seed: int) -> Callable[[Sequence[Any]], list[Any]]:
    """A TFDS interleave sort function: the split's files in an order drawn from seed."""

    def permute(file_instructions: Sequence[Any]) -> list[Any]:
        order = np.random.default_rng(seed).permutation(len(file_instructions))
        return [file_instructions[i] for i in order]

    return permute


def read_split(builder: tfds.core.DatasetBuilder, split: str, *, file_seed: int | None,
               skip_decoding: tuple[str, ...] = ()) -> tf.data.Dataset:
    """The examples of a split: in stored order (file_seed None) or with its files in an order drawn from file_seed.

    Features named in `skip_decoding` stay encoded (e.g. JPEG bytes), so that a shuffle
    holds compressed examples; decode them after shuffling.
    """
    decoders = {name: tfds.decode.SkipDecoding() for name in skip_decoding} or None
    read_config = tfds.ReadConfig(
        try_autocache=False,
        experimental_interleave_sort_fn=None if file_seed is None else _file_order(file_seed),
    )
    # shuffle_files stays False: TFDS shuffles files with tf.data's seeded shuffle, whose
    # order also depends on the global TF seed (the model seed); the sort function does not.
    return builder.as_dataset(split=split, shuffle_files=False, decoders=decoders, read_config=read_config)


def shuffled_split(builder: tfds.core.DatasetBuilder, split: str, *, shuffle_buffer: int, dataset_seed: int,
                   epoch: int, skip_decoding: tuple[str, ...] = ()) -> tf.data.Dataset:
    """One epoch of a split: files in a seeded order, then a seeded block shuffle of `shuffle_buffer` examples.

    Both draws are pure functions of (dataset_seed, epoch), whatever the global TF seed.
    """
    ds = read_split(builder, split, file_seed=common.derive_seed(dataset_seed, epoch, "files"),
                    skip_decoding=skip_decoding)
    return common.block_shuffle(ds, shuffle_buffer, common.derive_seed(dataset_seed, epoch, "shuffle"))
