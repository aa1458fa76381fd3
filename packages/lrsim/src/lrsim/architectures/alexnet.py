"""AlexNet (Krizhevsky et al. 2012) as in the original study, with and without local response
normalization (AlexNet-LRN).

Recorded layers: conv1, conv2, conv3, conv4, conv5, fc6, fc7, fc8 (8 layers).

Layers (single-tower, no grouped convolutions, as in the study): conv1 96 11x11 stride 4,
[LRN], max pool 3/2; conv2 256 5x5, [LRN], max pool 3/2; conv3 384 3x3; conv4 384 3x3;
conv5 256 3x3; max pool 3/2; fc6 4096 and fc7 4096 (ReLU, dropout 0.5 while training);
fc8 to `num_outputs`. LRN: depth radius 5, bias 1, alpha 1e-4, beta 0.75. Initializers as in
the study: Glorot-uniform convolutions, truncated normal (std 0.01) dense layers with bias 0.1
in fc6/fc7. Weight decay 5e-4.

Input adaptation: when height and width are both >= 64 the original stem (11x11 stride 4,
"same" padding, overlapping 3/2 pools with no padding: 224 -> 56 -> 27 -> 13 -> 6, the
paper's 55x55 / 27x27 / 13x13 / 6x6 maps); smaller inputs get a 5x5 stride-1 conv1 and
"same"-padded pools (32 -> 16 -> 8 -> 4; 8 -> 4 -> 2 -> 1). Channels and fc6/fc7 units
scale with `width`.

Parameter count at width 1, 224x224x3 input and 1000 classes: 62,378,344, the single-tower
count of the paper's layer sizes (conv1 34,944; conv2 614,656; conv3 885,120; conv4 1,327,488;
conv5 884,992; fc6 37,752,832; fc7 16,781,312; fc8 4,097,000). The paper's "60 million"
counts its two-GPU grouped convolutions. The study's TensorFlow file differs from the paper
in a 4x4 conv4 and "same"-padded pools; here the paper's 3x3 conv4 and pooling are used.
"""

from __future__ import annotations

from typing import Any

import keras

from lrsim.architectures.base import Network, NetworkBuilder
from lrsim.architectures.lrn import LocalResponseNormalization
from lrsim.layers import CreditAssignment

WEIGHT_DECAY = 5e-4


def _alexnet(b: NetworkBuilder, lrn: bool) -> Network:
    inputs = keras.Input(shape=b.input_shape, name="images")
    pool_padding = "valid" if b.large_input else "same"

    def lrn_layer(x: Any, name: str) -> Any:
        if not lrn:
            return x
        return LocalResponseNormalization(depth_radius=5, bias=1.0, alpha=1e-4, beta=0.75, name=name)(x)

    def pool(x: Any, name: str) -> Any:
        return keras.layers.MaxPooling2D(pool_size=3, strides=2, padding=pool_padding, name=name)(x)

    def conv(x: Any, name: str, filters: int, kernel: int, strides: int = 1) -> Any:
        return b.conv(x, name, b.channels(filters), kernel, strides=strides, activation="relu")

    x = conv(inputs, "conv1", 96, 11, strides=4) if b.large_input else conv(inputs, "conv1", 96, 5)
    x = pool(lrn_layer(x, "lrn1"), "pool1")
    x = pool(lrn_layer(conv(x, "conv2", 256, 5), "lrn2"), "pool2")
    x = conv(x, "conv3", 384, 3)
    x = conv(x, "conv4", 384, 3)
    x = pool(conv(x, "conv5", 256, 3), "pool5")
    x = keras.layers.Flatten(name="flatten")(x)
    for name in ("fc6", "fc7"):
        x = b.dense(
            x,
            name,
            b.channels(4096),
            activation="relu",
            kernel_initializer=b.initializer("TruncatedNormal", stddev=0.01),
            bias_initializer=keras.initializers.Constant(0.1),
        )
        x = keras.layers.Dropout(0.5, seed=b.next_seed(), name=f"{name}_dropout")(x)
    logits = b.dense(x, "fc8", b.num_outputs, kernel_initializer=b.initializer("TruncatedNormal", stddev=0.01))
    return b.finish(inputs, logits)


def _factory(lrn: bool):
    architecture = "alexnet_lrn" if lrn else "alexnet"

    def build(
        input_shape: tuple[int, ...],
        num_outputs: int,
        *,
        width: float = 1.0,
        credit: CreditAssignment | None = None,
        seed: int = 0,
        weight_decay: float = WEIGHT_DECAY,
    ) -> Network:
        builder = NetworkBuilder(architecture, input_shape, num_outputs, width, credit, seed, weight_decay)
        return _alexnet(builder, lrn)

    build.__name__ = architecture
    build.__doc__ = f"AlexNet{'-LRN' if lrn else ''}; see `lrsim.architectures.alexnet`."
    return build


alexnet = _factory(lrn=False)
alexnet_lrn = _factory(lrn=True)
