"""The deep softmax autoencoder: an encoder, a decoder and a classifier sharing one code.

The encoder f maps a window x to a code, the decoder g maps the code back to
x, and a small classifier reads genre probabilities off the code. Training
minimises L = gamma * ||x - g(f(x))||^2 + (1 - gamma) * cross_entropy, so
the code is pushed to keep the signal and to separate the genres at once.
:class:`SoftmaxClassifier` is the plain classifier the study's baselines use.
This module holds only networks and their gradients: no optimizer, no data.
"""

from collections import namedtuple

import numpy as np

from . import functional as F
from .layers import mlp

LossTerms = namedtuple("LossTerms", ["reconstruction", "cross_entropy", "total"])
LossTerms.__doc__ = "The two terms of the joint loss and their gamma-weighted sum (floats)."

# Inference runs in chunks so predicting on a whole dataset keeps memory bounded.
_CHUNK = 8192


class _Network:
    """What every network here shares: input checks, standardization, parameter dicts.

    Subclasses set ``input_dim``, ``n_classes``, ``dtype``, the parts named in
    ``_parts`` (Sequential stacks) and ``input_mean`` / ``input_scale`` (input_dim,).
    """

    _parts = ()

    def parameters(self):
        """Dict of name -> live parameter array, e.g. ``"encoder.0.W"`` of shape (500, 256)."""
        return self._collect("parameters")

    def gradients(self):
        """Dict of name -> gradient from the last backward pass, same keys as parameters()."""
        return self._collect("gradients")

    def _collect(self, method):
        out = {}
        for part in self._parts:
            for key, value in getattr(getattr(self, part), method)().items():
                out[f"{part}.{key}"] = value
        return out

    @property
    def n_parameters(self):
        return sum(p.size for p in self.parameters().values())

    def fit_scaling(self, x):
        """Set the input standardization from training windows.

        Parameters
        ----------
        x : ndarray, shape (N, input_dim)
            Training windows only: statistics from validation or test data would leak.
        """
        x = self._check_x(x)
        self.input_mean[...] = x.mean(axis=0, dtype=np.float64)
        std = x.std(axis=0, dtype=np.float64)
        # A constant feature (e.g. silence) would divide by zero; leave it unscaled.
        self.input_scale[...] = np.where(std > 1e-8, std, 1.0)

    def _check_x(self, x):
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise ValueError(f"x must have shape (N, {self.input_dim}), got {x.shape}")
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise ValueError(f"x must hold real numbers, got dtype {x.dtype}")
        x = x.astype(self.dtype, copy=False)
        if not np.isfinite(x).all():
            raise ValueError("x contains NaN or inf")
        return x

    def _check_y(self, y, n):
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != n:
            raise ValueError(f"y must have shape ({n},) to match x, got {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"y must hold integer class labels, got dtype {y.dtype}")
        if n and (y.min() < 0 or y.max() >= self.n_classes):
            raise ValueError(f"labels must be in [0, {self.n_classes - 1}], "
                             f"got values from {y.min()} to {y.max()}")
        return y

    def _check_batch(self, x, y):
        x = self._check_x(x)
        y = self._check_y(y, len(x))
        if len(x) == 0:
            raise ValueError("cannot compute a loss on an empty batch")
        return x, y

    def _standardize(self, x):
        z = x - self.input_mean
        z /= self.input_scale
        return z

    def _chunked(self, x, fn):
        x = self._check_x(x)
        parts = [fn(self._standardize(x[i:i + _CHUNK])) for i in range(0, len(x), _CHUNK)]
        return np.concatenate(parts) if parts else fn(self._standardize(x))

    def predict_proba(self, x):
        """Genre probabilities. x: (N, input_dim) -> (N, n_classes), rows sum to 1."""
        return F.softmax_forward(self.logits(x))[0]

    def predict(self, x):
        """Most probable class per window. x: (N, input_dim) -> (N,) int."""
        return self.logits(x).argmax(axis=1)

    def loss(self, x, y):
        """The loss on (x, y) without gradients, as :class:`LossTerms` (batch means)."""
        return self.loss_and_logits(x, y)[0]


def _check_sizes(**sizes):
    for name, value in sizes.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


class SoftmaxAutoencoderNetwork(_Network):
    """Encoder, decoder and classifier head with the joint loss and its gradients.

    Parameters
    ----------
    input_dim : int
        Width D of an input window (500 in the study).
    n_classes : int
        Number of genres C.
    code_dim : int
        Width of the code f(x) (64 in the study).
    encoder_hidden : sequence of int
        Hidden widths of the encoder; the decoder mirrors them unless
        ``decoder_hidden`` is given.
    decoder_hidden : sequence of int or None
    classifier_hidden : int
        Width of the classifier's single hidden layer (128, tanh).
    gamma : float in [0, 1]
        Weight of the reconstruction term; 1 is a plain autoencoder, 0 a plain
        classifier on top of the encoder.
    activation : {"tanh", "sigmoid", "relu"}
        Activation of every hidden layer and of the code.
    dtype : float32 (training) or float64 (gradient checks).
    seed : int or numpy.random.Generator
        Source of the initial weights.

    Notes
    -----
    Inputs are standardized inside the model, z = (x - input_mean) / input_scale,
    with statistics set by :meth:`fit_scaling` (identity until then), so the
    scaling travels with the weights. The decoder reconstructs z.
    """

    def __init__(self, input_dim=500, n_classes=4, code_dim=64, encoder_hidden=(256, 192, 128),
                 decoder_hidden=None, classifier_hidden=128, gamma=0.9, activation="tanh",
                 dtype=np.float32, seed=0):
        self.dtype = _dtype(dtype)
        _check_sizes(input_dim=input_dim, n_classes=n_classes, code_dim=code_dim,
                     classifier_hidden=classifier_hidden)
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.input_dim = int(input_dim)
        self.n_classes = int(n_classes)
        self.code_dim = int(code_dim)
        self.encoder_hidden = tuple(int(h) for h in encoder_hidden)
        self.decoder_hidden = (tuple(reversed(self.encoder_hidden)) if decoder_hidden is None
                               else tuple(int(h) for h in decoder_hidden))
        self.classifier_hidden = int(classifier_hidden)
        self.activation = activation
        self.gamma = gamma
        rng = _rng(seed)
        init = "he" if activation == "relu" else "glorot"
        build = dict(rng=rng, hidden=activation, init=init, dtype=self.dtype)
        self.encoder = mlp((self.input_dim, *self.encoder_hidden, self.code_dim),
                           output=activation, **build)
        self.decoder = mlp((self.code_dim, *self.decoder_hidden, self.input_dim),
                           output="identity", **build)
        self.classifier = mlp((self.code_dim, self.classifier_hidden, self.n_classes),
                              output="identity", **build)
        # The input is data: no gradient w.r.t. it is needed, so the first layer skips dx.
        self.encoder.layers[0].input_grad = False
        self.input_mean = np.zeros(self.input_dim, dtype=self.dtype)
        self.input_scale = np.ones(self.input_dim, dtype=self.dtype)
        self.last_loss = None
        self.last_predictions = None

    # ----- configuration -------------------------------------------------------------
    @property
    def gamma(self):
        return self._gamma

    @gamma.setter
    def gamma(self, value):
        if not (isinstance(value, (int, float, np.floating)) and 0.0 <= value <= 1.0):
            raise ValueError(f"gamma must be a number in [0, 1], got {value!r}")
        self._gamma = float(value)

    def config(self):
        """Constructor arguments (JSON-friendly) that rebuild this architecture."""
        return {"input_dim": self.input_dim, "n_classes": self.n_classes,
                "code_dim": self.code_dim, "encoder_hidden": list(self.encoder_hidden),
                "decoder_hidden": list(self.decoder_hidden),
                "classifier_hidden": self.classifier_hidden, "gamma": self.gamma,
                "activation": self.activation, "dtype": self.dtype.name}

    _parts = ("encoder", "decoder", "classifier")

    # ----- forward pieces ------------------------------------------------------------
    def encode(self, x):
        """Codes f(x). x: (N, input_dim) -> (N, code_dim)."""
        return self._chunked(x, self.encoder.forward)

    def reconstruct(self, x):
        """Reconstructions g(f(x)) in the units of x. x: (N, input_dim) -> (N, input_dim)."""
        x_hat = self._chunked(x, lambda z: self.decoder.forward(self.encoder.forward(z)))
        return x_hat * self.input_scale + self.input_mean

    def logits(self, x):
        """Classifier scores before the softmax. x: (N, input_dim) -> (N, n_classes)."""
        return self._chunked(x, lambda z: self.classifier.forward(self.encoder.forward(z)))

    def loss_and_logits(self, x, y):
        """One inference pass giving the loss terms and the logits (N, n_classes)."""
        x, y = self._check_batch(x, y)
        rec_sum = ce_sum = 0.0
        logits = []
        for i in range(0, len(x), _CHUNK):
            z = self._standardize(x[i:i + _CHUNK])
            code = self.encoder.forward(z)
            n = len(z)
            rec_sum += F.sum_squared_error(self.decoder.forward(code), z)[0] * n
            logits.append(self.classifier.forward(code))
            ce_sum += F.softmax_cross_entropy(logits[-1], y[i:i + _CHUNK])[0] * n
        return self._terms(rec_sum / len(x), ce_sum / len(x)), np.concatenate(logits)

    def _terms(self, reconstruction, cross_entropy):
        total = self.gamma * reconstruction + (1.0 - self.gamma) * cross_entropy
        return LossTerms(reconstruction, cross_entropy, total)

    # ----- the joint loss and backpropagation ----------------------------------------
    def loss_and_gradients(self, x, y):
        """Joint loss and the gradient of every parameter.

        Parameters
        ----------
        x : ndarray, shape (N, input_dim)
        y : ndarray of int, shape (N,)

        Returns
        -------
        loss : float
            gamma * reconstruction + (1 - gamma) * cross_entropy; both terms are
            also stored in ``self.last_loss`` as :class:`LossTerms`, and the
            batch's predicted classes (N,) in ``self.last_predictions``.
        grads : dict
            Same keys and shapes as :meth:`parameters`.

        Notes
        -----
        dL/dx_hat  = gamma * 2 (x_hat - z) / N
        dL/dlogits = (1 - gamma) * (softmax(logits) - onehot(y)) / N
        dL/dcode   = decoder backward of dL/dx_hat + classifier backward of dL/dlogits
        """
        x, y = self._check_batch(x, y)
        z = self._standardize(x)
        code = self.encoder.forward(z)
        x_hat = self.decoder.forward(code)
        logits = self.classifier.forward(code)

        reconstruction, dx_hat = F.sum_squared_error(x_hat, z)
        cross_entropy, dlogits = F.softmax_cross_entropy(logits, y)
        self.last_loss = self._terms(reconstruction, cross_entropy)
        self.last_predictions = logits.argmax(axis=1)
        dx_hat *= self.gamma
        dlogits *= 1.0 - self.gamma

        # The code feeds two heads, so by the chain rule its gradient is the sum of
        # what flows back from each: this addition is where the decoder's and the
        # classifier's objectives meet and shape the same encoder.
        dcode = self.decoder.backward(dx_hat)
        dcode += self.classifier.backward(dlogits)
        self.encoder.backward(dcode)
        return self.last_loss.total, self.gradients()

    def __repr__(self):
        return (f"{type(self).__name__}(encoder={self.encoder}, decoder={self.decoder}, "
                f"classifier={self.classifier}, gamma={self.gamma})")


class SoftmaxClassifier(_Network):
    """A plain softmax classifier (one tanh hidden layer): the study's baselines.

    Used on frozen autoencoder codes (the study's two-stage baseline) or on raw
    windows. Same interface as :class:`SoftmaxAutoencoderNetwork`; its
    ``LossTerms`` carry a reconstruction of 0.

    Parameters
    ----------
    input_dim, n_classes, hidden : int
    activation : hidden activation name
    dtype, seed : as for the autoencoder
    """

    _parts = ("classifier",)

    def __init__(self, input_dim=64, n_classes=4, hidden=128, activation="tanh",
                 dtype=np.float32, seed=0):
        self.dtype = _dtype(dtype)
        _check_sizes(input_dim=input_dim, n_classes=n_classes, hidden=hidden)
        self.input_dim, self.n_classes, self.hidden = int(input_dim), int(n_classes), int(hidden)
        self.activation = activation
        self.classifier = mlp((self.input_dim, self.hidden, self.n_classes), _rng(seed),
                              hidden=activation, output="identity",
                              init="he" if activation == "relu" else "glorot", dtype=self.dtype)
        self.classifier.layers[0].input_grad = False
        self.input_mean = np.zeros(self.input_dim, dtype=self.dtype)
        self.input_scale = np.ones(self.input_dim, dtype=self.dtype)
        self.last_loss = None
        self.last_predictions = None

    def config(self):
        return {"input_dim": self.input_dim, "n_classes": self.n_classes, "hidden": self.hidden,
                "activation": self.activation, "dtype": self.dtype.name}

    def logits(self, x):
        """x: (N, input_dim) -> (N, n_classes)."""
        return self._chunked(x, self.classifier.forward)

    def loss_and_logits(self, x, y):
        """Cross-entropy terms and logits (N, n_classes), without gradients."""
        x, y = self._check_batch(x, y)
        logits = self.logits(x)
        ce = F.softmax_cross_entropy(logits, y)[0]
        return LossTerms(0.0, ce, ce), logits

    def loss_and_gradients(self, x, y):
        """Cross-entropy and its gradients; dlogits = (softmax(logits) - onehot(y)) / N."""
        x, y = self._check_batch(x, y)
        logits = self.classifier.forward(self._standardize(x))
        ce, dlogits = F.softmax_cross_entropy(logits, y)
        self.last_loss = LossTerms(0.0, ce, ce)
        self.last_predictions = logits.argmax(axis=1)
        self.classifier.backward(dlogits)
        return ce, self.gradients()
