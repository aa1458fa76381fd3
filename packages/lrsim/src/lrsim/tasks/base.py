"""What a task gives the training engine and the observables.

A task owns its data and its objective: the engine asks it for batches, for the loss of a
model on a batch, for an evaluation metric and for the fixed probe set on which
observables are measured. The engine never looks inside a batch, so supervised and
self-supervised (SimCLR) tasks train through the same loop.

Data order is a pure function of (dataset_seed, epoch): a run interrupted after epoch k
resumes by asking for epoch k + 1, with no iterator state to save. An unseeded run
(the paper's dataset seed "None") draws a seed once at its start and records it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import keras
import numpy as np
import tensorflow as tf


class Task(ABC):
    """A learning problem: data, objective, metric and probe set."""

    #: registry name, e.g. "digits", "cifar10", "simclr:digits"
    name: str
    #: input of one example, channels last: (8, 8, 1) digits, (32, 32, 3) CIFAR-10,
    #: (frames, mel bins, 1) spectrograms. Architectures adapt to it.
    input_shape: tuple[int, ...]
    #: outputs of the network's head: classes (supervised) or embedding size (SimCLR)
    num_outputs: int
    #: "supervised" or "contrastive"
    kind: str
    #: name of the value `evaluate` returns, e.g. "top1_accuracy", "linear_probe_accuracy"
    metric_name: str

    @abstractmethod
    def steps_per_epoch(self, batch_size: int) -> int:
        """Optimizer steps in one epoch (the last partial batch is dropped)."""

    @abstractmethod
    def train_batches(self, batch_size: int, dataset_seed: int, epoch: int) -> tf.data.Dataset:
        """The batches of one epoch, shuffled by (dataset_seed, epoch).

        Exactly `steps_per_epoch(batch_size)` elements, each a batch in the form
        `loss` expects. Same seed and epoch -> same order, bit for bit. Finish the
        pipeline with `common.fixed_pipeline` (kept order, no autotuning, prefetched
        unless the data is in memory), as the evaluation pipeline too.
        """

    @abstractmethod
    def loss(self, model: keras.Model, batch: Any, training: bool = True) -> tf.Tensor:
        """Scalar task loss of the model on one batch (called inside tf.function)."""

    @abstractmethod
    def evaluate(self, model: keras.Model, batch_size: int = 256) -> float:
        """The task metric on held-out data (`metric_name`), higher is better."""

    @abstractmethod
    def probe_inputs(self, n: int, seed: int = 0) -> np.ndarray:
        """n fixed held-out inputs (n, *input_shape), float32, chosen by seed.

        Observables are measured on these, the same inputs at every checkpoint.
        """
