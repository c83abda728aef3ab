"""What every network here shares, kept apart so model.py starts with the models.

Sizes and dtype checks, input and label checks, standardization, parameter
dicts, and inference in chunks (a chunk of examples at a time, labels cut with
the same slice); the loss without gradients. :mod:`numpy_sae.nn.model` builds
the softmax autoencoders and classifiers on :class:`_Network`.
"""

from collections import namedtuple
from contextlib import contextmanager

import numpy as np

from . import functional as F
from .init import INITIALIZERS
from .layers import ACTIVATIONS, mlp

LossTerms = namedtuple("LossTerms", ["reconstruction", "cross_entropy", "total"])
LossTerms.__doc__ = "The two terms of the joint loss and their gamma-weighted sum (floats)."

_CHUNK = 8192
UNLABELED = -1  # the label of a window without a genre: it trains the reconstruction only
HIDDEN_ACTIVATIONS = tuple(name for name in ACTIVATIONS if name != "identity")


class _Network:
    """What both networks share: sizes, input checks, standardization, parameter dicts,
    chunked inference and the loss without gradients.

    Subclasses name their Sequential stacks in ``_parts`` and implement
    ``_inference(z, y) -> (reconstruction, cross_entropy, logits)`` for one chunk
    of standardized inputs and ``loss_and_gradients``.
    """

    _parts = ()
    gamma = 0.0  # weight of the reconstruction term; a plain classifier has none
    reconstructs = False

    def __init__(self, input_dim, n_classes, activation, dtype, init=None):
        self.dtype = _dtype(dtype)
        if init is not None and init not in INITIALIZERS:
            raise ValueError(f"init must be one of {', '.join(INITIALIZERS)}, got {init!r}")
        self.init = init
        _check_sizes(input_dim=input_dim, n_classes=n_classes)
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.input_dim, self.n_classes = int(input_dim), int(n_classes)
        self.activation = _check_activation(activation, "activation")
        # Standardization travels with the weights: identity until fit_scaling is called.
        self.input_mean = np.zeros(self.input_dim, dtype=self.dtype)
        self.input_scale = np.ones(self.input_dim, dtype=self.dtype)

    def _build(self, sizes, rng, output):
        """A Dense/activation stack of the given widths with this network's settings."""
        init = self.init or ("he" if self.activation == "relu" else "glorot")
        return mlp(sizes, rng, hidden=self.activation, output=output, init=init, dtype=self.dtype)

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
        x : ndarray, shape (N, input_dim), N >= 1
            Training windows only: statistics from validation or test data would leak.
        """
        x = self._check_x(x)
        if len(x) == 0:
            raise ValueError("cannot fit the input scaling on zero windows")
        rows = self._scaling_rows(x)
        self.input_mean[...] = rows.mean(axis=0, dtype=np.float64)
        std = rows.std(axis=0, dtype=np.float64)
        # A constant feature (e.g. silence) would divide by zero; leave it unscaled.
        self.input_scale[...] = np.where(std > 1e-8, std, 1.0)

    def _scaling_rows(self, x):
        """The rows (M, input_dim) whose statistics set the standardization."""
        return x

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
        if n and (y.min() < UNLABELED or y.max() >= self.n_classes):
            raise ValueError(f"labels must be in [0, {self.n_classes - 1}] (or {UNLABELED} for "
                             f"unlabeled windows), got values from {y.min()} to {y.max()}")
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

    def standardized(self, x):
        """What the network reads: z = (x - input_mean) / input_scale, (N, input_dim)."""
        return self._map(x, lambda z: z)

    # How many input rows (frames) one example holds: 1 for a window, T for a segment.
    def _rows_per_example(self, x):
        return 1

    def _chunks(self, x):
        """(rows, standardized chunk) pairs over x; inference runs in chunks so predicting
        on a whole dataset keeps memory bounded.

        ``rows`` is a slice of examples (windows, or segments for the segment model):
        the one rule that cuts a chunk, so whoever holds labels or song ids for x cuts
        them with the same slice, ``y[rows]``. A chunk holds about ``_CHUNK`` input rows.
        An empty x gives one empty chunk.
        """
        x = self._check_x(x)
        step = max(1, _CHUNK // max(self._rows_per_example(x), 1))
        for start in range(0, max(len(x), 1), step):
            rows = slice(start, start + step)
            yield rows, self._standardize(self._check_chunk(x[rows]))

    def _check_chunk(self, chunk):
        """A chunk as read from x (already checked whole for an array)."""
        return chunk

    def _map(self, x, fn):
        """fn applied to every standardized chunk of x, results stacked along axis 0."""
        return np.concatenate([fn(z) for _, z in self._chunks(x)])

    def buffers(self):
        """Arrays that are state but not trained (saved and loaded with the weights)."""
        return {}

    def reconstruction_pair(self, x):
        """(what the decoder aims at, what it gives), both as rows of the standardized
        units the reconstruction loss uses: x (N, ...) -> two arrays (M, D)."""
        target = self.standardized(x)
        return target, self.standardized(self.reconstruct(x))

    @contextmanager
    def finite_forward(self):
        """Inference in which every layer's output must be finite: inside it, a layer that
        gives NaN or inf raises FloatingPointError naming it (e.g. ``"encoder.0
        (Dense(500, 256))"``), on every CPU, however its kernels round an overflow."""
        stacks = {name: getattr(self, name) for name in self._parts}
        stacks = {name: part for name, part in stacks.items() if hasattr(part, "check_finite")}
        for name, stack in stacks.items():
            stack.check_finite = name
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                yield
        finally:
            for stack in stacks.values():
                stack.check_finite = None

    def predict_proba(self, x):
        """Genre probabilities. x: (N, input_dim) -> (N, n_classes), rows sum to 1."""
        return F.softmax_forward(self.logits(x))[0]

    def predict(self, x):
        """Most probable class per window. x: (N, input_dim) -> (N,) int."""
        return self.logits(x).argmax(axis=1)

    def _terms(self, reconstruction, cross_entropy):
        total = self.gamma * reconstruction + (1.0 - self.gamma) * cross_entropy
        return LossTerms(reconstruction, cross_entropy, total)

    def loss_and_logits(self, x, y):
        """The loss without gradients, in chunks.

        Parameters
        ----------
        x : ndarray, shape (N, input_dim), N >= 1
        y : ndarray of int, shape (N,)

        Returns
        -------
        terms : LossTerms (batch means)
        logits : ndarray, shape (N, n_classes)
        """
        x, y = self._check_batch(x, y)
        reconstruction = cross_entropy = 0.0
        logits = []
        for rows, z in self._chunks(x):
            rec, ce, chunk_logits = self._inference(z, y[rows])
            reconstruction += rec * len(z)
            cross_entropy += ce * len(z)
            logits.append(chunk_logits)
        return self._terms(reconstruction / len(x), cross_entropy / len(x)), np.concatenate(logits)

    def loss(self, x, y):
        """The loss on (x, y) without gradients, as :class:`LossTerms` (batch means)."""
        return self.loss_and_logits(x, y)[0]


def _check_sizes(**sizes):
    for name, value in sizes.items():
        if not isinstance(value, (int, np.integer, float)) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_activation(name, what):
    if name not in HIDDEN_ACTIVATIONS:
        raise ValueError(f"{what} must be one of {', '.join(HIDDEN_ACTIVATIONS)}, got {name!r}")
    return name


def _dtype(dtype):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
