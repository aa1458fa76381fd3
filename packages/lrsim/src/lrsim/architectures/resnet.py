"""ResNet-18/34 in the post-activation (v1, He et al. 2016a) and pre-activation (v2, He et al.
2016b) forms of the original study's TPU ResNets.

Recorded layers (the study's `model_layer_names.py`): the stem convolution "conv0", every
convolution of every residual block, "block_group{g}_{b}/conv{c}" (v1) or
"block_layer{g}_{b}/conv{c}" (v2) with c = 0 for the projection shortcut of a group's first
block, and the final "dense". ResNet-18 records 22 layers, ResNet-34 38.

Structure as in the study: no biases in convolutions, batch norm (v1: momentum 0.9 after
every convolution, the last of each block initialized to gamma = 0; v2: momentum 0.997 before
every convolution of a block and once after the last block), a 1x1 projection shortcut in
the first block of every group (also the first, where torchvision uses the identity:
`projection_in_first_group=False` gives torchvision's exact network), global average
pooling, then the dense layer. Strided convolutions use the ResNet fixed padding.

Input adaptation: when height and width are both >= 64 (ImageNet crops, long spectrograms)
the stem is the original 7x7 stride-2 convolution and 3x3 stride-2 max pool; smaller inputs
(32x32 CIFAR images, 8x8 digits) get a 3x3 stride-1 stem and no pool (He et al. 2016a,
section 4.2). Channels scale with `width`.

Parameter counts at width 1, 224x224x3 input and 1000 classes: ResNet-18 11,693,736 and
ResNet-34 21,801,896, which are torchvision's 11,689,512 and 21,797,672 plus the group-1
projection shortcut (a 64x64 1x1 convolution and its batch norm: 4,224 parameters).
"""

from __future__ import annotations

from typing import Any

import keras

from lrsim.architectures.base import Network, NetworkBuilder, keras_name
from lrsim.layers import CreditAssignment

BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
GROUP_FILTERS = (64, 128, 256, 512)
WEIGHT_DECAY = 1e-4


def _batch_norm(x: Any, name: str, momentum: float, zero_gamma: bool = False) -> Any:
    return keras.layers.BatchNormalization(
        momentum=momentum,
        epsilon=1e-5,
        gamma_initializer="zeros" if zero_gamma else "ones",
        name=keras_name(name),
    )(x)


def _relu(x: Any) -> Any:
    return keras.layers.ReLU()(x)


def _conv(b: NetworkBuilder, x: Any, name: str, filters: int, kernel: int, strides: int) -> Any:
    return b.conv(
        x,
        name,
        b.channels(filters),
        kernel,
        strides=strides,
        padding="same" if strides == 1 else "fixed",
        use_bias=False,
        kernel_initializer=b.initializer("VarianceScaling", scale=1.0, mode="fan_in", distribution="truncated_normal"),
    )


def _stem(b: NetworkBuilder, x: Any) -> Any:
    if b.large_input:
        return _conv(b, x, "conv0", 64, 7, 2)
    return _conv(b, x, "conv0", 64, 3, 1)


def _stem_pool(b: NetworkBuilder, x: Any) -> Any:
    if b.large_input:
        return keras.layers.MaxPooling2D(pool_size=3, strides=2, padding="same", name="initial_max_pool")(x)
    return x


def _resnet_v1(b: NetworkBuilder, depth: int, projection_in_first_group: bool) -> Network:
    momentum = 0.9
    inputs = keras.Input(shape=b.input_shape, name="images")
    x = _stem(b, inputs)
    x = _relu(_batch_norm(x, "conv0/bn", momentum))
    x = _stem_pool(b, x)
    for group, (filters, blocks) in enumerate(zip(GROUP_FILTERS, BLOCKS[depth], strict=True), start=1):
        for block in range(blocks):
            prefix = f"block_group{group}_{block}"
            strides = 2 if (block == 0 and group > 1) else 1
            shortcut = x
            if block == 0 and (projection_in_first_group or group > 1):
                shortcut = _conv(b, x, f"{prefix}/conv0", filters, 1, strides)
                shortcut = _batch_norm(shortcut, f"{prefix}/conv0/bn", momentum)
            h = _conv(b, x, f"{prefix}/conv1", filters, 3, strides)
            h = _relu(_batch_norm(h, f"{prefix}/conv1/bn", momentum))
            h = _conv(b, h, f"{prefix}/conv2", filters, 3, 1)
            h = _batch_norm(h, f"{prefix}/conv2/bn", momentum, zero_gamma=True)
            x = _relu(keras.layers.Add(name=keras_name(f"{prefix}/add"))([h, shortcut]))
    x = keras.layers.GlobalAveragePooling2D(name="final_avg_pool")(x)
    logits = b.dense(x, "dense", b.num_outputs, kernel_initializer=b.initializer("RandomNormal", stddev=0.01))
    return b.finish(inputs, logits)


def _resnet_v2(b: NetworkBuilder, depth: int, projection_in_first_group: bool) -> Network:
    momentum = 0.997
    inputs = keras.Input(shape=b.input_shape, name="images")
    x = _stem_pool(b, _stem(b, inputs))
    for group, (filters, blocks) in enumerate(zip(GROUP_FILTERS, BLOCKS[depth], strict=True), start=1):
        for block in range(blocks):
            prefix = f"block_layer{group}_{block}"
            strides = 2 if (block == 0 and group > 1) else 1
            shortcut = x
            pre = _relu(_batch_norm(x, f"{prefix}/bn0", momentum))
            if block == 0 and (projection_in_first_group or group > 1):
                shortcut = _conv(b, pre, f"{prefix}/conv0", filters, 1, strides)
            h = _conv(b, pre, f"{prefix}/conv1", filters, 3, strides)
            h = _relu(_batch_norm(h, f"{prefix}/conv1/bn", momentum))
            h = _conv(b, h, f"{prefix}/conv2", filters, 3, 1)
            x = keras.layers.Add(name=keras_name(f"{prefix}/add"))([h, shortcut])
    x = _relu(_batch_norm(x, "bnl4", momentum))
    x = keras.layers.GlobalAveragePooling2D(name="final_avg_pool")(x)
    logits = b.dense(x, "dense", b.num_outputs, kernel_initializer=b.initializer("GlorotUniform"))
    return b.finish(inputs, logits)


def _factory(depth: int, v2: bool):
    architecture = f"resnet{depth}{'v2' if v2 else ''}"

    def build(
        input_shape: tuple[int, ...],
        num_outputs: int,
        *,
        width: float = 1.0,
        credit: CreditAssignment | None = None,
        seed: int = 0,
        weight_decay: float = WEIGHT_DECAY,
        projection_in_first_group: bool = True,
    ) -> Network:
        builder = NetworkBuilder(architecture, input_shape, num_outputs, width, credit, seed, weight_decay)
        return (_resnet_v2 if v2 else _resnet_v1)(builder, depth, projection_in_first_group)

    build.__name__ = architecture
    build.__doc__ = (
        f"ResNet-{depth}{' v2 (pre-activation)' if v2 else ''}; see `lrsim.architectures.resnet`. "
        "`projection_in_first_group=False` gives torchvision's network."
    )
    return build


resnet18 = _factory(18, v2=False)
resnet18v2 = _factory(18, v2=True)
resnet34 = _factory(34, v2=False)
resnet34v2 = _factory(34, v2=True)
