"""One compiled pass over the probe set: every recorded layer's input, output and activity change.

Each recorded layer's input and output come from one forward pass of the network; the
Jacobian sums for grad (d sum_j y_j / dx, per example) come from each layer's exact
`forward` (the true derivative, whatever the rule's credit assignment), and the kernels are
read, in the same compiled function, so a checkpoint's observables cost one graph call plus
the statistics.

The compiled pass takes the network's variables as arguments, so it is compiled once per
network structure and process: the next run of the same architecture in a sweep worker
reuses it with its own variables instead of tracing it again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

import keras
import numpy as np
import tensorflow as tf

from lrsim.architectures import Network
from lrsim.observables.collect import LayerSnapshot

#: compiled passes kept per process (each holds the network it was traced from)
_CACHE_SIZE = 4
_COMPILED: OrderedDict[Hashable, Callable] = OrderedDict()


@contextmanager
def _without_graph_rewrites() -> Iterator[None]:
    """Run with Grappler off: on the probe graph (small, run K times) its rewrites cost more
    than they save."""
    before = tf.config.optimizer.get_experimental_options().get("disable_meta_optimizer", False)
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    try:
        yield
    finally:
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": before})


def structure_key(network: Network, probe: tf.Tensor) -> Hashable:
    """What the compiled pass depends on besides variable values: two networks with the same
    key compute the same function of their variables (layer names are left out: Keras numbers
    unnamed layers per process)."""
    layers = tuple((type(layer).__name__, tuple(tuple(w.shape) for w in layer.weights))
                   for layer in network.model.layers)
    return (network.architecture, network.width, network.input_shape, network.num_outputs,
            type(network.credit).__name__, layers, tuple(probe.shape), probe.dtype.name)


def _compile(template: Network, probe: tf.Tensor) -> Callable:
    """The pass traced on `template`, as a function of (variables in model order, probe)."""
    tapped = keras.Model(template.model.inputs[0],
                         [t for r in template.recorded for t in (r.layer.input, r.layer.output)])
    layers = [r.layer for r in template.recorded]
    template_variables = list(template.model.variables)

    @tf.function(autograph=False)  # plain Python loop: converting Keras code would only cost tracing time
    def measure(variables: list[tf.Variable], x: tf.Tensor):
        values = [(t, tf.convert_to_tensor(v)) for t, v in zip(template_variables, variables, strict=True)]
        with keras.StatelessScope(state_mapping=values):
            tensors = tapped(x, training=False)
            sums = []
            for i, layer in enumerate(layers):
                inputs = tensors[2 * i]
                with tf.GradientTape() as tape:
                    tape.watch(inputs)
                    outputs = layer.forward(inputs)
                sums.append(tape.gradient(outputs, inputs))  # a non-scalar target is summed: d(sum_j y_j)/dx
            kernels = [tf.convert_to_tensor(layer.kernel) for layer in layers]
        return tensors, sums, kernels

    return measure.get_concrete_function([v.value for v in template_variables], probe)


class ProbePass:
    """Measure a network's recorded layers on fixed probe inputs."""

    def __init__(self, network: Network, probe: np.ndarray):
        self.network = network
        self.probe = tf.constant(probe)
        self._variables = [v.value for v in network.model.variables]  # the tf.Variables, read at each call
        key = structure_key(network, self.probe)
        if key in _COMPILED:
            _COMPILED.move_to_end(key)
        else:
            _COMPILED[key] = _compile(network, self.probe)
            while len(_COMPILED) > _CACHE_SIZE:
                _COMPILED.popitem(last=False)
        self._measure = _COMPILED[key]

    def snapshots(self) -> list[LayerSnapshot]:
        """The recorded layers as they are now (kernels, probe inputs/outputs, grad sums)."""
        with _without_graph_rewrites():
            tensors, sums, kernels = self._measure(self._variables, self.probe)
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
