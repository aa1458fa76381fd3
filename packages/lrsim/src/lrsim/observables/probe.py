"""One compiled pass over the probe set: every recorded layer's input, output and activity change.

Each recorded layer's input and output come from one forward pass of the network; the
Jacobian sums for grad (d sum_j y_j / dx, per example) come from each layer's exact
`forward` (the true derivative, whatever the rule's credit assignment), and the kernels are
read, in the same compiled function, so a checkpoint's observables cost one graph call plus
the statistics.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keras
import numpy as np
import tensorflow as tf

from lrsim.architectures import Network
from lrsim.observables.collect import LayerSnapshot


@contextmanager
def _without_graph_rewrites() -> Iterator[None]:
    """Run with Grappler off: on the probe graph (small, run K times) its rewrites cost more
    than they save (resnet18 w1/8: first call 0.63 -> 0.50 s, later calls 10.8 -> 8.6 ms)."""
    before = tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": before})


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
                    outputs = layer.forward(inputs)
                sums.append(tape.gradient(outputs, inputs))  # a non-scalar target is summed: d(sum_j y_j)/dx
            return tensors, sums, [layer.kernel for layer in layers]

        self._measure = measure

    def snapshots(self) -> list[LayerSnapshot]:
        """The recorded layers as they are now (kernels, probe inputs/outputs, grad sums)."""
        with _without_graph_rewrites():
            tensors, sums, kernels = self._measure(self.probe)
        snapshots = []
        for i, recorded in enumerate(self.network.recorded):
            # read-only views of the tensors' buffers: the statistics never write to them
            inputs = np.asarray(tensors[2 * i])
            snapshots.append(LayerSnapshot(
                name=recorded.name, index=i, position=recorded.position, kernel=np.asarray(kernels[i]),
                inputs=inputs, outputs=np.asarray(tensors[2 * i + 1]), forward=recorded.layer.forward,
                output_sums=np.asarray(sums[i]).reshape(inputs.shape[0], -1),
            ))
        return snapshots
