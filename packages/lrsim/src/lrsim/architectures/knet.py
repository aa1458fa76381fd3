"""KNet4 and KNet5: Krizhevsky's CIFAR-10 network (Caffe's `cifar10_full`) as used by the
original study, with local response normalization, without, or with batch normalization.

Recorded layers: KNet4 conv1, conv2, conv3, fc4; KNet5 conv1, conv2, conv3, conv4, fc5.

Layers: conv1 32 5x5 (ReLU), max pool 3/2, [LRN]; conv2 32 5x5 (ReLU), average pool 3/2,
[LRN]; conv3 64 5x5 (ReLU), average pool 3/2; KNet5 adds conv4 128 5x5 (ReLU), average pool
3/2; then the dense layer to `num_outputs`. Pools are "same"-padded, so any input size works
(32 -> 16 -> 8 -> 4; 8 -> 4 -> 2 -> 1). LRN: depth radius 3, bias 1, alpha 5e-5, beta 0.75.
Weight decay 1e-5. Channels scale with `width`.

Initializers: ``init="he"`` (default) draws every kernel from He et al.'s (2015) truncated
normal, std sqrt(2 / fan_in). ``init="caffe"`` uses Caffe's normal stds (1e-4 for conv1, 0.01
elsewhere), which assume raw 0-255 pixels minus the mean; on inputs of unit scale (what the
tasks here feed) they shrink the signal about 100-fold per layer and no rule learns in a
short run.

The `_bn` variants (knet4_bn, knet5_bn) are the study's own `use_bn` option of its KNet file,
which it added "for more robustness to learning hyperparameters" but did not put in the
paper's grid: batch normalization (momentum 0.9, epsilon 1e-5) after every pool, where LRN
would be, with conv1's ReLU after its batch norm. Without normalization feedback alignment
and information alignment are unstable on the 8x8 digits (their loss grows by orders of
magnitude at rates where backprop learns); with it every rule learns (docs/REGIMES.md).

conv1's ReLU is fused into the layer (ReLU and max pooling commute, so this equals Caffe's
pool-then-ReLU); the study's TensorFlow file drops that ReLU in the variants without LRN,
which Caffe's network has.
"""

from __future__ import annotations

import keras

from lrsim.architectures.base import Network, NetworkBuilder
from lrsim.architectures.lrn import LocalResponseNormalization
from lrsim.layers import CreditAssignment

WEIGHT_DECAY = 1e-5


INITS = ("he", "caffe")


def _knet(b: NetworkBuilder, conv4: bool, lrn: bool, init: str, batch_norm: bool) -> Network:
    if init not in INITS:
        raise ValueError(f"{b.architecture}: init must be one of {INITS}, got {init!r}")
    inputs = keras.Input(shape=b.input_shape, name="images")

    def initializer(caffe_stddev: float):
        if init == "caffe":
            return b.initializer("RandomNormal", stddev=caffe_stddev)
        return b.initializer("HeNormal")

    def conv(x, name: str, filters: int, stddev: float, activation: str | None = "relu"):
        return b.conv(x, name, b.channels(filters), 5, activation=activation, kernel_initializer=initializer(stddev))

    def norm(x, name: str, index: int, relu: bool = False):
        if batch_norm:
            x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"bn{index}")(x)
            return keras.layers.ReLU(name=f"relu{index}")(x) if relu else x
        if not lrn or index > 2:
            return x
        return LocalResponseNormalization(depth_radius=3, bias=1.0, alpha=5e-5, beta=0.75, name=name)(x)

    def avg_pool(x, name: str):
        return keras.layers.AveragePooling2D(pool_size=3, strides=2, padding="same", name=name)(x)

    x = conv(inputs, "conv1", 32, 1e-4, activation=None if batch_norm else "relu")
    x = norm(keras.layers.MaxPooling2D(pool_size=3, strides=2, padding="same", name="pool1")(x), "norm1", 1, relu=True)
    x = norm(avg_pool(conv(x, "conv2", 32, 0.01), "pool2"), "norm2", 2)
    x = norm(avg_pool(conv(x, "conv3", 64, 0.01), "pool3"), "norm3", 3)
    if conv4:
        x = norm(avg_pool(conv(x, "conv4", 128, 0.01), "pool4"), "norm4", 4)
    x = keras.layers.Flatten(name="flatten")(x)
    logits = b.dense(x, "fc5" if conv4 else "fc4", b.num_outputs, kernel_initializer=initializer(0.01))
    return b.finish(inputs, logits)


def _factory(conv4: bool, lrn: bool = False, batch_norm: bool = False):
    suffix = "_lrn" if lrn else "_bn" if batch_norm else ""
    architecture = f"knet{5 if conv4 else 4}{suffix}"

    def build(
        input_shape: tuple[int, ...],
        num_outputs: int,
        *,
        width: float = 1.0,
        credit: CreditAssignment | None = None,
        seed: int = 0,
        weight_decay: float = WEIGHT_DECAY,
        init: str = "he",
    ) -> Network:
        builder = NetworkBuilder(architecture, input_shape, num_outputs, width, credit, seed, weight_decay)
        return _knet(builder, conv4, lrn, init, batch_norm)

    build.__name__ = architecture
    build.__doc__ = f"KNet{5 if conv4 else 4}{suffix.replace('_', '-').upper()}; see `lrsim.architectures.knet`."
    return build


knet4 = _factory(conv4=False, lrn=False)
knet4_lrn = _factory(conv4=False, lrn=True)
knet5 = _factory(conv4=True, lrn=False)
knet5_lrn = _factory(conv4=True, lrn=True)
knet4_bn = _factory(conv4=False, batch_norm=True)
knet5_bn = _factory(conv4=True, batch_norm=True)
