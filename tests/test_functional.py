import numpy as np
import pytest

from numpy_sae.nn import functional as F
from numpy_sae.nn.gradcheck import (
    numerical_gradient,
    numerical_gradient_array,
    relative_error,
)

BOUND = 1e-6


def check_array_fn(forward, backward, x, rng):
    """Analytic VJP vs centered differences of sum(forward(x) * dout)."""
    out, cache = forward(x)
    dout = rng.standard_normal(out.shape)
    dx = backward(dout, cache)
    dx_num = numerical_gradient_array(lambda: forward(x)[0], x, dout)
    return relative_error(dx, dx_num)


@pytest.mark.parametrize("name", ["tanh", "sigmoid", "identity", "softmax"])
def test_activation_gradients(name, rng):
    x = rng.standard_normal((4, 5))
    forward = getattr(F, f"{name}_forward")
    backward = getattr(F, f"{name}_backward")
    assert check_array_fn(forward, backward, x, rng) < BOUND


def test_relu_gradient_away_from_kink(rng):
    x = rng.standard_normal((4, 5))
    x[np.abs(x) < 0.01] = 0.5  # finite differences are meaningless at the kink
    assert check_array_fn(F.relu_forward, F.relu_backward, x, rng) < BOUND


def test_dense_gradients(rng):
    x = rng.standard_normal((3, 4))
    W = rng.standard_normal((4, 5))
    b = rng.standard_normal(5)
    out, cache = F.dense_forward(x, W, b)
    dout = rng.standard_normal(out.shape)
    dx, dW, db = F.dense_backward(dout, cache)
    fwd = lambda: F.dense_forward(x, W, b)[0]  # noqa: E731
    assert relative_error(dx, numerical_gradient_array(fwd, x, dout)) < BOUND
    assert relative_error(dW, numerical_gradient_array(fwd, W, dout)) < BOUND
    assert relative_error(db, numerical_gradient_array(fwd, b, dout)) < BOUND
    assert dW.shape == W.shape and db.shape == b.shape


def test_tanh_matches_numpy_and_saturates():
    x = np.array([[-1000.0, -20.0, -1e-3, 0.0, 1e-3, 0.7, 20.0, 1000.0]])
    out, _ = F.tanh_forward(x)
    np.testing.assert_allclose(out, np.tanh(x), rtol=0, atol=1e-15)
    out32, _ = F.tanh_forward(x.astype(np.float32))
    assert out32.dtype == np.float32
    np.testing.assert_allclose(out32, np.tanh(x), rtol=0, atol=3e-7)


def test_sigmoid_values():
    out, _ = F.sigmoid_forward(np.array([[-800.0, 0.0, 2.0, 800.0]]))
    np.testing.assert_allclose(out, [[0.0, 0.5, 1 / (1 + np.exp(-2.0)), 1.0]], atol=1e-15)


def test_softmax_rows_sum_to_one_and_shift_invariant(rng):
    z = rng.standard_normal((3, 4))
    p, _ = F.softmax_forward(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    np.testing.assert_allclose(F.softmax_forward(z + 100.0)[0], p)


def test_cross_entropy_gradient(rng):
    logits = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, size=5)
    loss, dlogits = F.softmax_cross_entropy(logits, y)
    num = numerical_gradient(lambda: F.softmax_cross_entropy(logits, y)[0], logits)
    assert relative_error(dlogits, num) < BOUND
    # The fused gradient is (p - onehot) / N.
    p, _ = F.softmax_forward(logits)
    onehot = np.eye(4)[y]
    np.testing.assert_allclose(dlogits, (p - onehot) / 5, atol=1e-15)
    np.testing.assert_allclose(loss, -np.mean(np.log(p[np.arange(5), y])))


def test_masked_cross_entropy_gradient_and_value(rng):
    logits = rng.standard_normal((6, 4))
    y = np.array([2, -1, 0, -1, 3, 1])
    loss, dlogits = F.masked_softmax_cross_entropy(logits, y)
    num = numerical_gradient(lambda: F.masked_softmax_cross_entropy(logits, y)[0], logits)
    assert relative_error(dlogits, num) < BOUND
    assert not dlogits[[1, 3]].any()  # unlabeled rows get no gradient
    labeled = y >= 0
    expected, d_expected = F.softmax_cross_entropy(logits[labeled], y[labeled])
    assert loss == pytest.approx(expected)  # the mean runs over the 4 labeled rows
    np.testing.assert_allclose(dlogits[labeled], d_expected)
    assert F.masked_softmax_cross_entropy(logits, np.full(6, -1))[0] == 0.0
    full = rng.integers(0, 4, 6)
    assert F.masked_softmax_cross_entropy(logits, full)[0] == F.softmax_cross_entropy(logits, full)[0]


def test_cross_entropy_is_finite_for_extreme_logits():
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 1000.0]])
    y = np.array([1, 0])  # both targets have probability ~0
    loss, dlogits = F.softmax_cross_entropy(logits, y)
    assert np.isfinite(loss) and np.isfinite(dlogits).all()
    # Row 1: -log p = 1000 - (-1000) = 2000; row 2: 1000 - (-1000) + log 2.
    assert loss == pytest.approx((2000.0 + 2000.0 + np.log(2.0)) / 2)
    loss32, d32 = F.softmax_cross_entropy(logits.astype(np.float32), y)
    assert np.isfinite(loss32) and np.isfinite(d32).all() and d32.dtype == np.float32


def test_sum_squared_error_value_and_gradient(rng):
    x_hat = rng.standard_normal((3, 6))
    x = rng.standard_normal((3, 6))
    loss, grad = F.sum_squared_error(x_hat.copy(), x)
    assert loss == pytest.approx(np.sum((x - x_hat) ** 2) / 3)
    num = numerical_gradient(lambda: F.sum_squared_error(x_hat.copy(), x)[0], x_hat)
    assert relative_error(grad, num) < BOUND


def test_relative_error_floor_and_shapes():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error([1.0, 2.0], [1.0, 2.0 + 4e-6]) == pytest.approx(1e-6, rel=1e-3)
    with pytest.raises(ValueError, match="shapes differ"):
        relative_error(np.zeros(2), np.zeros(3))


def test_meanstd_pool_by_hand():
    x = np.array([[[1.0, 0.0], [3.0, 0.0], [5.0, 6.0]]])  # one segment, T = 3 frames, K = 2
    out, _ = F.meanstd_pool_forward(x, eps=0.0)
    # means 3 and 2; variances (4 + 0 + 4) / 3 and (4 + 4 + 16) / 3
    np.testing.assert_allclose(out, [[3.0, 2.0, np.sqrt(8 / 3), np.sqrt(8.0)]])


def test_meanstd_pool_gradient(rng):
    x = rng.standard_normal((3, 5, 4))
    assert check_array_fn(F.meanstd_pool_forward, F.meanstd_pool_backward, x, rng) < BOUND


def test_meanstd_pool_gradient_of_a_constant_feature_is_finite(rng):
    # A feature that never changes over time has std sqrt(eps): its gradient stays finite.
    x = rng.standard_normal((2, 6, 3))
    x[:, :, 1] = 0.7
    out, cache = F.meanstd_pool_forward(x)
    dx = F.meanstd_pool_backward(np.ones_like(out), cache)
    assert np.isfinite(dx).all()
    np.testing.assert_allclose(dx[:, :, 1], 1.0 / 6)  # only the mean's share remains


def test_the_whole_network_by_hand_is_the_librarys_network(rng):
    from numpy_sae.nn.model import SoftmaxAutoencoderNetwork
    net = SoftmaxAutoencoderNetwork(input_dim=6, n_classes=3, code_dim=4, encoder_hidden=(),
                                    decoder_hidden=(), classifier_hidden=0, gamma=0.7,
                                    code_activation="tanh", dtype=np.float64, seed=rng)
    p = net.parameters()
    # One name per weight: the exercise takes the model's own parameter dict as it is.
    params = {name: value.copy() for name, value in p.items()}
    assert set(params) == {f"{part}.0.{w}" for part in ("encoder", "decoder", "classifier")
                           for w in "Wb"}
    x, y = rng.standard_normal((5, 6)), rng.integers(0, 3, 5)
    loss, grads = F.joint_network_loss(params, x, y, 0.7)
    terms, net_grads, _ = net.loss_and_gradients(x, y)
    assert loss == pytest.approx(terms.total, rel=1e-12)
    for name in params:
        np.testing.assert_allclose(grads[name], net_grads[name], rtol=1e-10, atol=1e-14)
    for key, value in params.items():  # and centered differences, entry by entry
        numeric = numerical_gradient(lambda: F.joint_network_loss(params, x, y, 0.7)[0], value)
        assert relative_error(grads[key], numeric) < BOUND


def test_meanlogstd_pool_gradient(rng):
    x = rng.standard_normal((3, 5, 4))
    out, _ = F.meanlogstd_pool_forward(x)
    np.testing.assert_allclose(out[:, 4:], np.log(np.sqrt(x.var(axis=1) + 1e-5)))
    assert check_array_fn(F.meanlogstd_pool_forward, F.meanlogstd_pool_backward, x, rng) < BOUND
