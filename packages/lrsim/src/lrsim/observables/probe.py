"""One compiled pass over the probe set: every recorded layer's input, output and activity change.

Each recorded layer's input and output come from one forward pass of the network; the
Jacobian sums for grad (d sum_j y_j / dx, per example) come from each layer's exact
`forward` (the true derivative, whatever the rule's credit assignment) in the same
compiled function, so a checkpoint's observables cost one graph call plus the statistics.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from lrsim.architectures import Network
from lrsim.observables.collect import LayerSnapshot


class ProbePass:
    """Measure a network's recorded layers on fixed probe inputs."""

    def __init__(self, network: Network, probe: np.ndarray):
        self.network = network
        self.probe = tf.constant(probe)
        tapped = keras.Model(network.model.inputs[0],
                             [t for r in network.recorded for t in (r.layer.input, r.layer.output)])
        layers = [r.layer for r in network.recorded]

        @tf.function(autograph=False)  # plain Python loop: converting Keras code would only cost tracing time
        def measure(x: tf.Tensor):
            tensors = tapped(x, training=False)
            sums = []
            for i, layer in enumerate(layers):
                inputs = tensors[2 * i]
                with tf.GradientTape() as tape:
                    tape.watch(inputs)
                    total = tf.reduce_sum(layer.forward(inputs))
                sums.append(tape.gradient(total, inputs))
            return tensors, sums

        self._measure = measure

    def snapshots(self) -> list[LayerSnapshot]:
        """The recorded layers as they are now (kernels, probe inputs/outputs, grad sums)."""
        tensors, sums = self._measure(self.probe)
        snapshots = []
        for i, recorded in enumerate(self.network.recorded):
            inputs = tensors[2 * i].numpy()
            snapshots.append(LayerSnapshot(
                name=recorded.name, index=i, position=recorded.position, kernel=recorded.layer.kernel.numpy(),
                inputs=inputs, outputs=tensors[2 * i + 1].numpy(), forward=recorded.layer.forward,
                output_sums=sums[i].numpy().reshape(inputs.shape[0], -1),
            ))
        return snapshots
