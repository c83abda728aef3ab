import numpy as np
import pytest

from numpy_sae.nn.gradcheck import numerical_gradient_array, relative_error
from numpy_sae.nn.init import glorot_uniform, he_normal
from numpy_sae.nn.layers import (
    Dense,
    Identity,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
    mlp,
)

BOUND = 1e-6


def layer_errors(layer, x, rng):
    """Max relative error of dx and of every parameter gradient of one layer."""
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    dx = layer.backward(dout)
    errors = {"x": relative_error(dx, numerical_gradient_array(lambda: layer.forward(x), x, dout))}
    for key, p in layer.params.items():
        errors[key] = relative_error(layer.grads[key],
                                     numerical_gradient_array(lambda: layer.forward(x), p, dout))
    return errors


@pytest.mark.parametrize("layer_cls", [Tanh, Sigmoid, Identity, Softmax])
def test_activation_layers(layer_cls, rng):
    errors = layer_errors(layer_cls(), rng.standard_normal((3, 4)), rng)
    assert max(errors.values()) < BOUND


def test_relu_layer(rng):
    x = rng.uniform(0.1, 1.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    assert max(layer_errors(ReLU(), x, rng).values()) < BOUND


def test_dense_layer_gradients_and_shapes(rng):
    layer = Dense(4, 3, rng, dtype=np.float64)
    layer.params["b"][:] = rng.standard_normal(3)
    errors = layer_errors(layer, rng.standard_normal((5, 4)), rng)
    assert set(errors) == {"x", "W", "b"}
    assert max(errors.values()) < BOUND
    for k in ("W", "b"):
        assert layer.grads[k].shape == layer.params[k].shape
        assert layer.grads[k].dtype == layer.params[k].dtype


def test_sequential_gradients(rng):
    net = mlp((4, 6, 5, 3), rng, hidden="tanh", output="sigmoid", dtype=np.float64)
    x = rng.standard_normal((2, 4))
    errors = layer_errors(_Flat(net), x, rng)
    assert max(errors.values()) < BOUND
    assert list(net.parameters()) == ["0.W", "0.b", "2.W", "2.b", "4.W", "4.b"]


class _Flat:
    """Expose a Sequential's nested parameters as one layer for layer_errors."""

    def __init__(self, net):
        self.net = net
        self.params = net.parameters()

    def forward(self, x):
        return self.net.forward(x)

    def backward(self, dout):
        dx = self.net.backward(dout)
        self.grads = self.net.gradients()
        return dx


def test_backward_before_forward_raises(rng):
    with pytest.raises(RuntimeError, match="before forward"):
        Dense(2, 2, rng).backward(np.zeros((1, 2)))
    with pytest.raises(RuntimeError, match="before forward"):
        Identity().backward(np.zeros((1, 2)))


def test_backward_does_not_change_params(rng):
    layer = Dense(3, 2, rng, dtype=np.float64)
    before = {k: v.copy() for k, v in layer.params.items()}
    layer.forward(rng.standard_normal((4, 3)))
    layer.backward(rng.standard_normal((4, 2)))
    for k in before:
        np.testing.assert_array_equal(layer.params[k], before[k])


def test_initializer_statistics(rng):
    W = glorot_uniform(rng, 300, 200, np.float64)
    limit = np.sqrt(6 / 500)
    assert W.shape == (300, 200) and np.abs(W).max() <= limit
    assert W.var() == pytest.approx(2 / 500, rel=0.05)
    H = he_normal(rng, 400, 300, np.float32)
    assert H.dtype == np.float32 and H.var() == pytest.approx(2 / 400, rel=0.05)


def test_initializers_are_seeded():
    a = glorot_uniform(np.random.default_rng(7), 5, 4)
    b = glorot_uniform(np.random.default_rng(7), 5, 4)
    c = glorot_uniform(np.random.default_rng(8), 5, 4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_sequential_repr():
    net = Sequential([Dense(2, 3, np.random.default_rng(0)), Tanh()])
    assert repr(net) == "Sequential(Dense(2, 3), Tanh())"
