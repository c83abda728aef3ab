"""Layers: parameters, gradients and a cache around the pure functions.

A layer's ``forward(x)`` returns its output and remembers what ``backward``
needs; ``backward(dout)`` returns the input gradient and fills ``grads`` with
arrays of the same keys, shapes and dtypes as ``params``. Backward never
changes parameters: updating them is the optimizer's job, so every gradient
can be checked numerically before it is used.
"""

import numpy as np

from . import functional as F
from .filterbanks import gabor_filters, hann, initial_frequencies, random_filters
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


class Filterbank(Layer):
    """A learnable spectrogram: frames (n, N) -> log energies (n, K) of K filter pairs.

    Parameters
    ----------
    frame_length : int, N samples per frame
    n_filters : int, K filter pairs (K bands)
    init : "fourier" (rfft bins, Hann window), "mel" (mel-spaced bins, Hann window),
        "gabor" (mel-spaced bands, each with a Gaussian window as wide as its band) or
        "random" (free Glorot rows)
    rng : numpy.random.Generator (drawn from only for ``random``)
    sample_rate : float, Hz (places the mel bands)
    parametric : bool. False: the rows W (2K, N) are free parameters. True: W is built
        from K centre frequencies ``omega`` and one shared window ``window``
        (:func:`functional.gabor_filters_forward`): 2 numbers per filter instead of 2N.
    anchor : float >= 0, L2-SP: a penalty anchor/2 ||theta - theta_0||**2 pulls the
        parameters toward where they started, not toward zero
    dtype : numpy dtype of the parameters

    Notes
    -----
    Forward :func:`functional.filterbank_forward`; backward
    :func:`functional.filterbank_backward` (and :func:`functional.gabor_filters_backward`
    for the parametric form), plus anchor * (theta - theta_0) from the penalty.
    """

    def __init__(self, frame_length, n_filters, init="mel", rng=None, sample_rate=22050.0,
                 parametric=False, anchor=0.0, dtype=np.float32):
        super().__init__()
        self.frame_length, self.n_filters = int(frame_length), int(n_filters)
        self.init, self.parametric, self.anchor = init, bool(parametric), float(anchor)
        if init in ("random", "gabor"):
            if self.parametric:
                raise ValueError(f"a {init} start has no centre frequencies sharing one window: "
                                 "use parametric=False")
            W = (random_filters(rng, self.n_filters, self.frame_length) if init == "random"
                 else gabor_filters(self.n_filters, self.frame_length, sample_rate))
            self.params["W"] = W.astype(dtype)
        else:
            omega = initial_frequencies(init, self.n_filters, self.frame_length, sample_rate)
            window = hann(self.frame_length)
            if self.parametric:
                self.params["omega"] = omega.astype(dtype)
                self.params["window"] = window.astype(dtype)
            else:
                self.params["W"] = F.gabor_filters_forward(omega, window)[0].astype(dtype)
        self.initial = {k: v.copy() for k, v in self.params.items()}

    def filters(self):
        """The filter rows W (2K, N) as they are now."""
        if self.parametric:
            return F.gabor_filters_forward(self.params["omega"], self.params["window"])[0]
        return self.params["W"]

    def initial_filters(self):
        """The filter rows W_0 (2K, N) the layer started from."""
        if self.parametric:
            return F.gabor_filters_forward(self.initial["omega"], self.initial["window"])[0]
        return self.initial["W"]

    def drift(self):
        """How far the filters moved: ||W - W_0|| / ||W_0||."""
        W0 = self.initial_filters().astype(np.float64)
        return float(np.linalg.norm(self.filters() - W0) / np.linalg.norm(W0))

    def penalty(self):
        """anchor/2 * sum ||theta - theta_0||**2 (L2-SP), a float."""
        if not self.anchor:
            return 0.0
        return 0.5 * self.anchor * sum(float(np.sum((self.params[k] - self.initial[k]) ** 2,
                                                    dtype=np.float64)) for k in self.params)

    def forward(self, x):
        """x: (n, N) -> c: (n, K)."""
        gabor_cache = None
        if self.parametric:
            W, gabor_cache = F.gabor_filters_forward(self.params["omega"], self.params["window"])
        else:
            W = self.params["W"]
        c, cache = F.filterbank_forward(x, W)
        self._cache = (cache, gabor_cache)
        return c

    def backward(self, dout):
        """dout: (n, K) -> None (the waveform is data); sets the parameters' gradients."""
        cache, gabor_cache = self._take_cache()
        _, dW = F.filterbank_backward(dout, cache)
        if self.parametric:
            self.grads["omega"], self.grads["window"] = F.gabor_filters_backward(dW, gabor_cache)
        else:
            self.grads["W"] = dW
        if self.anchor:
            for k in self.params:
                self.grads[k] += self.anchor * (self.params[k] - self.initial[k])
        return None

    def parameters(self):
        return dict(self.params)

    def gradients(self):
        return dict(self.grads)

    def __repr__(self):
        form = "parametric" if self.parametric else "free"
        return f"Filterbank({self.frame_length} -> {self.n_filters} bands, {self.init}, {form})"


ACTIVATIONS = {"tanh": Tanh, "sigmoid": Sigmoid, "relu": ReLU, "identity": Identity}


class Sequential(Layer):
    """A stack of layers applied in order; backward runs them in reverse.

    Parameter keys are ``"<index>.<name>"`` (e.g. ``"0.W"``), the index being the
    layer's position, so activations take numbers too.
    """

    # Inference that must not give a verdict from overflowed values sets this to the
    # stack's name: every layer's output is then required to be finite. tanh(+-inf) is
    # +-1, so a check of the last output alone would miss an overflow inside the stack.
    check_finite = None

    def __init__(self, layers):
        super().__init__()
        self.layers = list(layers)

    def forward(self, x):
        """x: (N, D_in) -> out: (N, D_out).

        When ``check_finite`` holds a name, a layer whose output holds NaN or inf
        raises FloatingPointError naming it (e.g. ``"encoder.0 (Dense(500, 256))"``).
        """
        for i, layer in enumerate(self.layers):
            x = layer.forward(x)
            if self.check_finite is not None and not np.isfinite(x).all():
                raise FloatingPointError(f"{self.check_finite}.{i} ({layer!r})")
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
