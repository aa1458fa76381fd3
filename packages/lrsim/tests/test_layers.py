"""The credit-assignment layers: the error crosses through B, B stays put under FA, and
backprop mode is TensorFlow's own autodiff."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from lrsim.architectures.lrn import LocalResponseNormalization
from lrsim.layers import (
    Backprop,
    FeedbackConv2D,
    FeedbackDense,
    feedback_conv2d,
    feedback_matmul,
)
from lrsim.rules import FeedbackAlignment, InformationAlignment, KolenPollack
from lrsim.training import make_train_step

RNG = np.random.default_rng(1234)


def _normal(*shape: int) -> np.ndarray:
    return RNG.normal(size=shape).astype(np.float32)


def _input_gradient(layer: keras.layers.Layer, x: np.ndarray, dy: np.ndarray) -> np.ndarray:
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    return tape.gradient(y, x, output_gradients=tf.constant(dy)).numpy()


def _conv_transpose_by_hand(
    dy: np.ndarray, b: np.ndarray, x_shape: tuple, stride: int, pad: tuple[int, int]
) -> np.ndarray:
    """dx[n, i*s + a - p, j*s + c - p, ch] += dy[n, i, j, f] * B[a, c, ch, f], by loops."""
    _, h, w, _ = dy.shape
    kh, kw = b.shape[:2]
    dx = np.zeros(x_shape, np.float64)
    for i in range(h):
        for j in range(w):
            for a in range(kh):
                for c in range(kw):
                    r, s = i * stride + a - pad[0], j * stride + c - pad[1]
                    if 0 <= r < x_shape[1] and 0 <= s < x_shape[2]:
                        dx[:, r, s, :] += dy[:, i, j, :].astype(np.float64) @ b[a, c].T.astype(np.float64)
    return dx


# ---------------------------------------------------------------------------- FA: the error goes through B


def test_fa_dense_input_gradient_is_upstream_error_through_b_and_not_backprop():
    layer = FeedbackDense(5, credit=FeedbackAlignment(), kernel_initializer=keras.initializers.GlorotNormal(seed=1))
    x, dy = _normal(7, 6), _normal(7, 5)
    dx = _input_gradient(layer, x, dy)
    b, w = layer.feedback.numpy(), layer.kernel.numpy()
    assert b.shape == (5, 6) and w.shape == (6, 5)
    np.testing.assert_allclose(dx, dy.astype(np.float64) @ b.astype(np.float64), rtol=1e-5, atol=1e-6)
    backprop = dy.astype(np.float64) @ w.T.astype(np.float64)
    assert np.linalg.norm(dx - backprop) > 0.5 * np.linalg.norm(backprop)


def test_fa_dense_input_gradient_includes_the_fused_activation_derivative():
    layer = FeedbackDense(
        4, activation="relu", credit=FeedbackAlignment(), kernel_initializer=keras.initializers.GlorotNormal(seed=2)
    )
    x, dy = _normal(9, 3), _normal(9, 4)
    dx = _input_gradient(layer, x, dy)
    pre = x @ layer.kernel.numpy() + layer.bias.numpy()
    expected = (dy * (pre > 0)).astype(np.float64) @ layer.feedback.numpy().astype(np.float64)
    np.testing.assert_allclose(dx, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("stride", "padding", "size"),
    [(1, "same", 6), (2, "same", 7), (2, "valid", 7), (2, "fixed", 8)],
)
def test_fa_conv_input_gradient_is_transposed_convolution_with_b_and_not_backprop(stride, padding, size):
    layer = FeedbackConv2D(
        4,
        3,
        strides=stride,
        padding=padding,
        use_bias=False,
        credit=FeedbackAlignment(),
        kernel_initializer=keras.initializers.GlorotNormal(seed=3),
    )
    x = _normal(2, size, size, 3)
    y = layer(x)
    dy = _normal(*y.shape)
    dx = _input_gradient(layer, x, dy)
    b, w = layer.feedback.numpy(), layer.kernel.numpy()
    assert b.shape == w.shape == (3, 3, 3, 4)
    if padding == "same":
        out = y.shape[1]
        total = max((out - 1) * stride + 3 - size, 0)
        pad = (total // 2, total // 2)
        dx_hand = _conv_transpose_by_hand(dy, b, x.shape, stride, pad)
        backprop = _conv_transpose_by_hand(dy, w, x.shape, stride, pad)
    elif padding == "valid":
        dx_hand = _conv_transpose_by_hand(dy, b, x.shape, stride, (0, 0))
        backprop = _conv_transpose_by_hand(dy, w, x.shape, stride, (0, 0))
    else:  # fixed: pad 1 each side, then valid; the pad's gradient crops
        padded = (2, size + 2, size + 2, 3)
        dx_hand = _conv_transpose_by_hand(dy, b, padded, stride, (0, 0))[:, 1:-1, 1:-1, :]
        backprop = _conv_transpose_by_hand(dy, w, padded, stride, (0, 0))[:, 1:-1, 1:-1, :]
    np.testing.assert_allclose(dx, dx_hand, rtol=1e-4, atol=1e-5)
    assert np.linalg.norm(dx - backprop) > 0.5 * np.linalg.norm(backprop)


def _train_steps(
    layer: keras.layers.Layer, x_shape: tuple, steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    inputs = keras.Input(x_shape[1:])
    h = layer(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(h)))
    optimizer = keras.optimizers.SGD(0.05, momentum=0.9)
    optimizer.build(model.trainable_variables)
    x, target = tf.constant(_normal(*x_shape)), tf.constant(_normal(x_shape[0], 3))

    def loss(m, batch):
        return tf.reduce_mean(tf.square(m(batch[0], training=True) - batch[1]))

    step = make_train_step(model, optimizer, loss)
    b0, w0 = layer.feedback.numpy().copy(), layer.kernel.numpy().copy()
    for _ in range(steps):
        step((x, target))
    return b0, layer.feedback.numpy(), w0, layer.kernel.numpy()


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_fa_feedback_matrix_is_bit_identical_after_many_training_steps(kind):
    if kind == "dense":
        layer = FeedbackDense(6, activation="relu", credit=FeedbackAlignment())
        shape = (16, 10)
    else:
        layer = FeedbackConv2D(4, 3, strides=2, activation="relu", credit=FeedbackAlignment())
        shape = (8, 6, 6, 2)
    b0, b1, w0, w1 = _train_steps(layer, shape, steps=60)
    assert not layer.feedback.trainable
    assert np.array_equal(b0, b1)
    assert not np.allclose(w0, w1)  # W did learn


@pytest.mark.parametrize("kind", ["dense", "conv"])
def test_forward_has_call_values_and_the_true_jacobian_while_call_differentiates_through_b(kind):
    if kind == "dense":
        layer = FeedbackDense(4, activation="relu", credit=FeedbackAlignment())
        x = _normal(6, 5)
    else:
        layer = FeedbackConv2D(3, 3, strides=2, padding="fixed", activation="relu", credit=FeedbackAlignment())
        x = _normal(2, 6, 6, 2)
    reference = (
        keras.layers.Dense(4, activation="relu")
        if kind == "dense"
        else keras.layers.Conv2D(3, 3, strides=2, activation="relu")
    )
    y = layer(x)
    dy = _normal(*y.shape)
    np.testing.assert_array_equal(layer.forward(x).numpy(), y.numpy())
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        via_call, via_forward = layer.call(xt), layer.forward(xt)
        padded = tf.pad(xt, [[0, 0], [1, 1], [1, 1], [0, 0]]) if kind == "conv" else xt
        reference.build(padded.shape)
        reference.set_weights([layer.kernel.numpy(), layer.bias.numpy()])
        via_reference = reference(padded)
    grads = [
        tape.gradient(out, xt, output_gradients=tf.constant(dy)).numpy()
        for out in (via_call, via_forward, via_reference)
    ]
    np.testing.assert_allclose(grads[1], grads[2], rtol=1e-5, atol=1e-6)  # forward: true Jacobian
    assert np.linalg.norm(grads[0] - grads[2]) > 0.5 * np.linalg.norm(grads[2])  # call: through B
    with pytest.raises(ValueError, match="not built"):
        FeedbackDense(2).forward(x)


# ---------------------------------------------------------------------------- backprop: TF's own autodiff


def test_backprop_dense_gradients_equal_keras_dense_autodiff():
    ours = FeedbackDense(5, activation="tanh", credit=Backprop())
    ref = keras.layers.Dense(5, activation="tanh")
    x = tf.constant(_normal(8, 4))
    ours.build(x.shape)
    ref.build(x.shape)
    ours.set_weights(ref.get_weights())
    grads = []
    for layer in (ours, ref):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.sin(y))
        grads.append([g.numpy() for g in tape.gradient(loss, [x, *layer.trainable_variables])])
    assert ours.feedback is None
    for g_ours, g_ref in zip(*grads, strict=True):
        np.testing.assert_allclose(g_ours, g_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("stride", "padding"), [(1, "same"), (2, "same"), (2, "valid")])
def test_backprop_conv_gradients_equal_keras_conv2d_autodiff(stride, padding):
    ours = FeedbackConv2D(4, 3, strides=stride, padding=padding, activation="relu", credit=Backprop())
    ref = keras.layers.Conv2D(4, 3, strides=stride, padding=padding, activation="relu")
    x = tf.constant(_normal(2, 7, 7, 3))
    ours.build(x.shape)
    ref.build(x.shape)
    ours.set_weights(ref.get_weights())
    grads = []
    for layer in (ours, ref):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(tf.sin(y))
        grads.append([g.numpy() for g in tape.gradient(loss, [x, *layer.trainable_variables])])
    for g_ours, g_ref in zip(*grads, strict=True):
        np.testing.assert_allclose(g_ours, g_ref, rtol=1e-5, atol=1e-5)


def test_fixed_padding_pads_kernel_minus_one_half_before_whatever_the_input_size():
    layer = FeedbackConv2D(2, 3, strides=2, padding="fixed", use_bias=False)
    for size in (7, 8):
        x = _normal(1, size, size, 1)
        y = layer(x).numpy()
        padded = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)])
        expected = tf.nn.conv2d(padded, layer.kernel.numpy(), 2, "VALID").numpy()
        np.testing.assert_allclose(y, expected, rtol=1e-6)
        assert layer.compute_output_shape(x.shape) == y.shape


# ---------------------------------------------------------------------------- core ops


def test_kolen_pollack_core_ops_hand_the_kernel_gradient_to_b_transposed():
    x, w, b, dy = _normal(5, 4), _normal(4, 3), _normal(3, 4), _normal(5, 3)
    xt, wt, bt = (tf.constant(v) for v in (x, w, b))
    with tf.GradientTape() as tape:
        tape.watch([xt, wt, bt])
        y = feedback_matmul(xt, wt, bt, tied=True)
    dx, dw, db = tape.gradient(y, [xt, wt, bt], output_gradients=tf.constant(dy))
    np.testing.assert_allclose(dw, x.T @ dy, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(db, (x.T @ dy).T, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dx, dy @ b, rtol=1e-5, atol=1e-6)

    xc, kc, fc = _normal(2, 5, 5, 2), _normal(3, 3, 2, 3), _normal(3, 3, 2, 3)
    xt, kt, ft = (tf.constant(v) for v in (xc, kc, fc))
    with tf.GradientTape() as tape:
        tape.watch([xt, kt, ft])
        loss = tf.reduce_sum(feedback_conv2d(xt, kt, ft, (1, 1), "SAME", tied=True) ** 2)
    _, dk, df = tape.gradient(loss, [xt, kt, ft])
    np.testing.assert_array_equal(dk.numpy(), df.numpy())


def test_untied_core_ops_send_no_gradient_to_b():
    xt, wt, bt = tf.constant(_normal(5, 4)), tf.constant(_normal(4, 3)), tf.constant(_normal(3, 4))
    with tf.GradientTape() as tape:
        tape.watch([xt, wt, bt])
        y = feedback_matmul(xt, wt, bt)
    assert tape.gradient(y, bt) is None


# ---------------------------------------------------------------------------- Keras layer checklist


@pytest.mark.parametrize(
    ("credit", "n_weights", "n_trainable", "n_losses"),
    [
        (Backprop(), 2, 2, 0),
        (FeedbackAlignment(), 3, 2, 0),
        (InformationAlignment(), 3, 3, 1),
        (KolenPollack(decay=1e-3), 3, 3, 1),
    ],
)
def test_layers_have_expected_shapes_weights_and_local_losses(credit, n_weights, n_trainable, n_losses):
    dense = FeedbackDense(7, credit=credit)
    conv = FeedbackConv2D(5, (3, 2), strides=(2, 1), credit=credit)
    for layer, x in ((dense, _normal(4, 3)), (conv, _normal(4, 9, 8, 2))):
        y = layer(x, training=True)
        assert tuple(y.shape) == layer.compute_output_shape(x.shape)
        assert len(layer.weights) == n_weights
        assert len(layer.trainable_weights) == n_trainable
        assert len(layer.losses) == n_losses
        layer(x)  # inference: no layer-local loss
        assert len(layer.losses) == 0
    assert tuple(dense(_normal(4, 3)).shape) == (4, 7)
    assert tuple(conv(_normal(4, 9, 8, 2)).shape) == (4, 5, 8, 5)


@pytest.mark.parametrize("credit", [Backprop(), FeedbackAlignment(), InformationAlignment(alpha=0.1), KolenPollack()])
def test_layers_round_trip_through_get_config(credit):
    for layer in (
        FeedbackDense(3, activation="relu", credit=credit, kernel_regularizer=keras.regularizers.L2(1e-4)),
        FeedbackConv2D(3, 5, strides=2, padding="fixed", credit=credit),
    ):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()
        assert clone.credit == credit
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(FeedbackDense(2, credit=credit))
    )
    assert isinstance(restored, FeedbackDense) and restored.credit == credit


def test_feedback_initializer_default_draws_b_independently_of_w_with_the_same_distribution():
    layer = FeedbackConv2D(64, 3, credit=FeedbackAlignment(), kernel_initializer=keras.initializers.HeNormal(seed=5))
    layer.build((None, 8, 8, 32))
    w, b = layer.kernel.numpy(), layer.feedback.numpy()
    assert not np.allclose(w, b)
    assert abs(np.corrcoef(w.ravel(), b.ravel())[0, 1]) < 0.05
    assert b.std() == pytest.approx(w.std(), rel=0.05)


def test_layers_refuse_bad_arguments_with_the_fix():
    with pytest.raises(ValueError, match="flatten"):
        FeedbackDense(3)(_normal(2, 4, 4, 1))
    with pytest.raises(ValueError, match="padding must be one of"):
        FeedbackConv2D(3, 3, padding="reflect")
    with pytest.raises(ValueError, match="filters"):
        FeedbackConv2D(0, 3)
    with pytest.raises(TypeError, match="CreditAssignment"):
        FeedbackDense(3, credit="fa")


def test_local_response_normalization_matches_tensorflow():
    x = _normal(2, 4, 4, 8)
    layer = LocalResponseNormalization(depth_radius=3, bias=1.0, alpha=5e-5, beta=0.75)
    expected = tf.nn.local_response_normalization(x, depth_radius=3, bias=1.0, alpha=5e-5, beta=0.75)
    np.testing.assert_array_equal(layer(x).numpy(), expected.numpy())
    assert LocalResponseNormalization.from_config(layer.get_config()).get_config() == layer.get_config()
