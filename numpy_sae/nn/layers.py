"""Layers: parameters, gradients and a cache around the pure functions.

A layer's ``forward(x)`` returns its output and remembers what ``backward``
needs; ``backward(dout)`` returns the input gradient and fills ``grads`` with
arrays of the same keys, shapes and dtypes as ``params``. Backward never
changes parameters: updating them is the optimizer's job, so every gradient
can be checked numerically before it is used.
"""

import numpy as np

from . import functional as F
from .init import INITIALIZERS


class Layer:
    """Base class: a layer with no parameters unless a subclass adds them."""

    def __init__(self):
        self.params = {}
        self.grads = {}
        self._cache = None

    def forward(self, x):
        raise NotImplementedError

    def backward(self, dout):
        raise NotImplementedError

    def _take_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    def __repr__(self):
        return f"{type(self).__name__}()"


class Dense(Layer):
    """Fully connected layer ``out = x @ W + b``.

    Parameters
    ----------
    n_in, n_out : int
        Input and output widths; ``W`` has shape (n_in, n_out), ``b`` shape (n_out,).
    rng : numpy.random.Generator
        Source of the initial weights.
    init : {"glorot", "he"}
    dtype : numpy dtype of the parameters.

    Attributes
    ----------
    input_grad : bool
        Whether backward computes dx (True). A network sets it to False on a
        layer that reads raw data, whose gradient nobody needs.
    """

    def __init__(self, n_in, n_out, rng, init="glorot", dtype=np.float32):
        super().__init__()
        self.params["W"] = INITIALIZERS[init](rng, n_in, n_out, dtype)
        self.params["b"] = np.zeros(n_out, dtype=dtype)
        self.input_grad = True

    def forward(self, x):
        """x: (N, n_in) -> out: (N, n_out)."""
        out, self._cache = F.dense_forward(x, self.params["W"], self.params["b"])
        return out

    def backward(self, dout):
        """dout: (N, n_out) -> dx: (N, n_in) (None if not input_grad);
        sets grads["W"] = x.T @ dout, grads["b"] = sum(dout)."""
        dx, self.grads["W"], self.grads["b"] = F.dense_backward(dout, self._take_cache(),
                                                                self.input_grad)
        return dx

    def __repr__(self):
        n_in, n_out = self.params["W"].shape
        return f"Dense({n_in}, {n_out})"


class _Activation(Layer):
    """An elementwise function and its derivative, taken from ``functional``."""

    _forward = staticmethod(F.identity_forward)
    _backward = staticmethod(F.identity_backward)

    def forward(self, x):
        """x: (N, D) -> out: (N, D)."""
        out, cache = self._forward(x)
        # The identity caches nothing; remember that forward ran all the same.
        self._cache = (cache,)
        return out

    def backward(self, dout):
        """dout: (N, D) -> dx: (N, D)."""
        (cache,) = self._take_cache()
        return self._backward(dout, cache)


class Tanh(_Activation):
    """tanh, backward dx = dout * (1 - out**2)."""

    _forward = staticmethod(F.tanh_forward)
    _backward = staticmethod(F.tanh_backward)


class Sigmoid(_Activation):
    """Logistic sigmoid, backward dx = dout * out * (1 - out)."""

    _forward = staticmethod(F.sigmoid_forward)
    _backward = staticmethod(F.sigmoid_backward)


class ReLU(_Activation):
    """max(0, x), backward dx = dout * (x > 0)."""

    _forward = staticmethod(F.relu_forward)
    _backward = staticmethod(F.relu_backward)


class Identity(_Activation):
    """Linear output, backward dx = dout."""


class Softmax(_Activation):
    """Softmax over the last axis with its full Jacobian-vector product (teaching only:
    training uses the fused ``functional.softmax_cross_entropy``)."""

    _forward = staticmethod(F.softmax_forward)
    _backward = staticmethod(F.softmax_backward)


class MeanStdPool(Layer):
    """Pooling over time: (N, T, K) frames -> (N, 2K), the mean and standard deviation of
    each feature over the T frames (or, with ``log_std``, the mean and the log of the
    standard deviation); backward dx_t = dmu / T + ds * (x_t - mu) / (T s), with
    ds = dlogs / s for the log."""

    def __init__(self, log_std=False):
        super().__init__()
        self.log_std = bool(log_std)

    def forward(self, x):
        """x: (N, T, K) -> out: (N, 2K)."""
        forward = F.meanlogstd_pool_forward if self.log_std else F.meanstd_pool_forward
        out, self._cache = forward(x)
        return out

    def backward(self, dout):
        """dout: (N, 2K) -> dx: (N, T, K)."""
        backward = F.meanlogstd_pool_backward if self.log_std else F.meanstd_pool_backward
        return backward(dout, self._take_cache())


ACTIVATIONS = {"tanh": Tanh, "sigmoid": Sigmoid, "relu": ReLU, "identity": Identity}


class Sequential(Layer):
    """A stack of layers applied in order; backward runs them in reverse.

    Parameter keys are ``"<index>.<name>"`` (e.g. ``"0.W"``), the index being the
    layer's position, so activations take numbers too.
    """

    def __init__(self, layers):
        super().__init__()
        self.layers = list(layers)

    def forward(self, x):
        """x: (N, D_in) -> out: (N, D_out)."""
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        """dout: (N, D_out) -> dx: (N, D_in); every layer's grads are filled (chain rule).

        Returns None when the first layer was told not to compute its input gradient.
        """
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def parameters(self):
        """Dict of ``"i.name"`` -> live parameter array."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.params.items()}

    def gradients(self):
        """Dict of ``"i.name"`` -> gradient from the last backward, same keys as parameters()."""
        return {f"{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in layer.grads.items()}

    def __repr__(self):
        return "Sequential(" + ", ".join(repr(layer) for layer in self.layers) + ")"


def mlp(sizes, rng, hidden="tanh", output="identity", init="glorot", dtype=np.float32):
    """Build Dense layers of the given widths with activations between them.

    Parameters
    ----------
    sizes : sequence of int, e.g. (500, 256, 192, 128, 64)
    rng : numpy.random.Generator
    hidden, output : activation names for the hidden layers and the last layer.

    Returns
    -------
    Sequential
    """
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Dense(n_in, n_out, rng, init=init, dtype=dtype))
        last = i == len(sizes) - 2
        layers.append(ACTIVATIONS[output if last else hidden]())
    return Sequential(layers)
