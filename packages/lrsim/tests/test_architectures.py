"""Architectures: full-size parameter counts, recorded layers, input adaptation, seeds."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import shared_schema
from lrsim.architectures import ARCHITECTURES, build_network, count_parameters, register_architecture
from lrsim.layers import FeedbackConv2D, FeedbackDense
from lrsim.rules import FeedbackAlignment, InformationAlignment

NAMES = [
    "resnet18",
    "resnet18v2",
    "resnet34",
    "resnet34v2",
    "alexnet",
    "alexnet_lrn",
    "knet4",
    "knet4_lrn",
    "knet5",
    "knet5_lrn",
    "knet4_bn",
    "knet5_bn",
]

# torchvision.models.resnet18 / resnet34 (He et al. 2016 ImageNet ResNets), weights docs:
# 11,689,512 and 21,797,672 parameters. The study's TPU ResNet adds a projection shortcut in
# the first block of group 1 too: a 1x1 64->64 convolution (4,096) and its batch norm (128).
TORCHVISION = {"resnet18": 11_689_512, "resnet34": 21_797_672}
GROUP1_PROJECTION = 64 * 64 + 2 * 64

# Krizhevsky et al. 2012 layer sizes, single tower (no grouped convolutions):
# conv1 96x11x11x3, conv2 256x5x5x96, conv3 384x3x3x256, conv4 384x3x3x384, conv5 256x3x3x384,
# fc6 9216->4096, fc7 4096->4096, fc8 4096->1000, each with biases.
ALEXNET = sum(
    fan_in * out + out
    for fan_in, out in [
        (11 * 11 * 3, 96),
        (5 * 5 * 96, 256),
        (3 * 3 * 256, 384),
        (3 * 3 * 384, 384),
        (3 * 3 * 384, 256),
        (6 * 6 * 256, 4096),
        (4096, 4096),
        (4096, 1000),
    ]
)


def _resnet_v2_minus_v1(depth: int) -> int:
    """Batch-norm parameters v2 has minus those v1 has (convolutions and dense are shared)."""
    blocks = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}[depth]
    v1 = 64  # stem
    v2 = 512  # after the last block
    channels_in = 64
    for filters, n in zip((64, 128, 256, 512), blocks, strict=True):
        for block in range(n):
            v1 += 2 * filters + (filters if block == 0 else 0)  # after conv1, conv2, projection
            v2 += (channels_in if block == 0 else filters) + filters  # before the block, after conv1
        channels_in = filters
    return 2 * (v2 - v1)


def test_registry_holds_every_architecture_of_the_study_and_refuses_duplicates():
    assert list(ARCHITECTURES) == NAMES
    with pytest.raises(ValueError, match="already registered"):
        register_architecture("knet4", ARCHITECTURES["knet4"])
    with pytest.raises(KeyError, match="known architectures: resnet18"):
        build_network("vgg16", (32, 32, 3), 10)


@pytest.mark.parametrize("depth", [18, 34])
def test_full_size_resnet_parameter_counts_match_torchvision_and_he_et_al(depth):
    name = f"resnet{depth}"
    torchvision_net = build_network(name, (224, 224, 3), 1000, projection_in_first_group=False)
    assert count_parameters(torchvision_net) == TORCHVISION[name]
    study = build_network(name, (224, 224, 3), 1000)
    assert count_parameters(study) == TORCHVISION[name] + GROUP1_PROJECTION
    v2 = build_network(f"{name}v2", (224, 224, 3), 1000)
    assert count_parameters(v2) == count_parameters(study) + _resnet_v2_minus_v1(depth)
    assert len(study.recorded) == len(v2.recorded) == {18: 22, 34: 38}[depth]


def test_full_size_alexnet_parameter_count_matches_krizhevsky_2012():
    assert ALEXNET == 62_378_344
    for name in ("alexnet", "alexnet_lrn"):
        network = build_network(name, (224, 224, 3), 1000)
        assert count_parameters(network) == ALEXNET
        flatten = network.model.get_layer("flatten")
        assert flatten.input.shape[1:] == (6, 6, 256)  # the paper's 6x6x256 pool5


def test_recorded_layer_names_follow_the_original_study():
    resnet18 = [r.name for r in build_network("resnet18", (32, 32, 3), 10, width=0.125).recorded]
    assert resnet18[:5] == [
        "conv0",
        "block_group1_0/conv0",
        "block_group1_0/conv1",
        "block_group1_0/conv2",
        "block_group1_1/conv1",
    ]
    assert resnet18[-2:] == ["block_group4_1/conv2", "dense"]
    assert [r.name for r in build_network("resnet18v2", (32, 32, 3), 10, width=0.125).recorded][
        1
    ] == "block_layer1_0/conv0"
    assert [r.name for r in build_network("alexnet", (32, 32, 3), 10, width=0.125).recorded] == [
        "conv1",
        "conv2",
        "conv3",
        "conv4",
        "conv5",
        "fc6",
        "fc7",
        "fc8",
    ]
    assert [r.name for r in build_network("knet4", (32, 32, 3), 10).recorded] == ["conv1", "conv2", "conv3", "fc4"]
    assert [r.name for r in build_network("knet5_lrn", (32, 32, 3), 10).recorded] == [
        "conv1",
        "conv2",
        "conv3",
        "conv4",
        "fc5",
    ]


def _ancestors(layer: keras.layers.Layer) -> set[int]:
    seen: set[int] = set()
    stack = list(layer._inbound_nodes[0].parent_nodes)
    while stack:
        node = stack.pop()
        if id(node.operation) not in seen:
            seen.add(id(node.operation))
            stack.extend(node.parent_nodes)
    return seen


@pytest.mark.parametrize("name", NAMES)
def test_recorded_layers_are_credit_layers_called_once_whose_call_is_the_forward_function(name):
    network = build_network(name, (32, 32, 3), 10, width=0.125, credit=FeedbackAlignment(), seed=1)
    model = network.model
    recorded = network.recorded
    assert [r.position for r in recorded] == shared_schema.layer_positions(len(recorded))
    assert len({r.name for r in recorded}) == len(recorded)
    layers = [r.layer for r in recorded]
    assert all(isinstance(layer, FeedbackConv2D | FeedbackDense) for layer in layers)
    assert isinstance(layers[-1], FeedbackDense) and layers[-1].units == 10
    assert all(r.layer.name == r.name.replace("/", "_") for r in recorded)
    in_graph = [layer for layer in model.layers if isinstance(layer, FeedbackConv2D | FeedbackDense)]
    assert {id(layer) for layer in in_graph} == {id(layer) for layer in layers}  # every credit layer is recorded
    assert all(len(layer._inbound_nodes) == 1 for layer in layers)
    # depth order: no recorded layer feeds an earlier one
    for i, layer in enumerate(layers):
        assert not _ancestors(layer) & {id(later) for later in layers[i:]}
    probe = keras.Model(model.input, [t for layer in layers for t in (layer.input, layer.output)])
    x = np.random.default_rng(0).random((3, 32, 32, 3), dtype=np.float32)
    values = probe(x, training=False)
    for layer, inp, out in zip(layers, values[0::2], values[1::2], strict=True):
        np.testing.assert_allclose(layer.call(inp).numpy(), out.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.forward(inp).numpy(), out.numpy(), rtol=1e-5, atol=1e-6)
        assert layer.feedback is not None


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "input_shape",
    [(8, 8, 1), (32, 32, 3), (98, 64, 1), (101, 40, 1)],
    ids=["digits", "cifar", "spectrogram64", "spectrogram40"],
)
def test_every_architecture_adapts_to_digits_images_and_spectrograms(name, input_shape):
    network = build_network(name, input_shape, 7, width=0.0625)
    assert network.model.input_shape == (None, *input_shape)
    assert network.model.output_shape == (None, 7)
    out = network.model(np.zeros((2, *input_shape), np.float32), training=False)
    assert out.shape == (2, 7) and np.all(np.isfinite(out.numpy()))


def test_large_inputs_get_the_imagenet_stem_and_small_ones_a_stride_one_stem():
    small = build_network("resnet18", (32, 32, 3), 10, width=0.125).recorded[0].layer
    large = build_network("resnet18", (64, 64, 3), 10, width=0.125).recorded[0].layer
    assert (small.kernel_size, small.strides) == ((3, 3), (1, 1))
    assert (large.kernel_size, large.strides) == ((7, 7), (2, 2))
    alex_small = build_network("alexnet", (32, 32, 3), 10, width=0.125).recorded[0].layer
    alex_large = build_network("alexnet", (224, 224, 3), 10, width=0.125).recorded[0].layer
    assert (alex_small.kernel_size, alex_small.strides) == ((5, 5), (1, 1))
    assert (alex_large.kernel_size, alex_large.strides) == ((11, 11), (4, 4))


def test_width_multiplier_scales_channels_and_hidden_units_but_not_outputs():
    half = build_network("alexnet", (32, 32, 3), 10, width=0.5)
    assert [r.layer.kernel.shape[-1] for r in half.recorded] == [48, 128, 192, 192, 128, 2048, 2048, 10]
    tiny = build_network("knet4", (32, 32, 3), 10, width=0.01)
    assert [r.layer.kernel.shape[-1] for r in tiny.recorded] == [1, 1, 1, 10]


def test_same_seed_builds_the_same_weights_and_other_seeds_differ():
    def weights(seed):
        network = build_network("knet4", (8, 8, 1), 10, seed=seed, credit=InformationAlignment())
        return [v.numpy() for v in network.model.variables]

    a, b, c = weights(5), weights(5), weights(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not any(np.array_equal(x, y) for x, y in zip(a, c, strict=True) if x.std() > 0)


def test_builders_refuse_bad_arguments_with_the_fix():
    with pytest.raises(ValueError, match=r"\(height, width, channels\)"):
        build_network("knet4", (8, 8), 10)
    with pytest.raises(ValueError, match="width multiplier"):
        build_network("knet4", (8, 8, 1), 10, width=0)
    with pytest.raises(ValueError, match="num_outputs"):
        build_network("knet4", (8, 8, 1), 0)
    with pytest.raises(ValueError, match="init must be one of"):
        build_network("knet4", (8, 8, 1), 10, init="xavier")
    with pytest.raises(TypeError, match="unexpected keyword"):
        build_network("alexnet", (8, 8, 1), 10, projection_in_first_group=False)


def test_knet_bn_variants_batch_normalise_after_every_pool_as_the_studys_use_bn_option():
    network = build_network("knet5_bn", (8, 8, 1), 10, width=0.5)
    names = [layer.name for layer in network.model.layers]
    assert names[1:] == ["conv1", "pool1", "bn1", "relu1", "conv2", "pool2", "bn2", "conv3", "pool3", "bn3",
                         "conv4", "pool4", "bn4", "flatten", "fc5"]
    assert network.layer("conv1").layer.activation.__name__ == "linear"  # its ReLU follows its batch norm
    assert [r.name for r in network.recorded] == [r.name for r in build_network("knet5", (8, 8, 1), 10).recorded]
    assert not any("norm" in n for n in names)  # batch norm replaces LRN


def test_knet_caffe_initializers_are_available():
    network = build_network("knet4", (32, 32, 3), 10, init="caffe")
    assert network.recorded[0].layer.kernel.numpy().std() == pytest.approx(1e-4, rel=0.1)
    assert network.recorded[1].layer.kernel.numpy().std() == pytest.approx(1e-2, rel=0.1)


def test_twins_of_one_model_seed_start_from_the_same_w_and_the_feedback_rules_from_the_same_b():
    from lrsim.rules import get_rule

    def start(rule: str, seed: int = 3):
        network = build_network("knet4_bn", (8, 8, 1), 10, seed=seed, credit=get_rule(rule).credit)
        kernels = [r.layer.kernel.numpy() for r in network.recorded]
        feedback = [r.layer.feedback.numpy() for r in network.recorded] if network.feedback_variables else None
        return kernels, feedback

    kernels, feedback = start("fa")
    for rule in ("sgdm", "adam", "ia", "kp"):
        other_kernels, other_feedback = start(rule)
        assert all(np.array_equal(a, b) for a, b in zip(kernels, other_kernels, strict=True))
        if other_feedback is not None:
            assert all(np.array_equal(a, b) for a, b in zip(feedback, other_feedback, strict=True))
    # B is drawn from the model seed, apart from W: another seed draws another B
    assert not np.array_equal(feedback[0], start("fa", seed=4)[1][0])
    assert not np.array_equal(feedback[0], np.transpose(kernels[0]) if kernels[0].ndim == 2 else kernels[0])
