"""The deep softmax autoencoder: an encoder, a decoder and a classifier sharing one code.

The encoder f maps a window x to a code, the decoder g maps the code back to
x, and a small classifier reads genre probabilities off the code. Training
minimises L = gamma * ||x - g(f(x))||^2 + (1 - gamma) * cross_entropy, so
the code is pushed to keep the signal and to separate the genres at once.
:class:`SoftmaxClassifier` is the plain classifier the study's baselines use.
This module holds only networks and their gradients: no optimizer, no data; what every
network shares (input checks, chunked inference) is in :mod:`numpy_sae.nn.network`.
"""

import numpy as np

from . import functional as F
from .filterbanks import FRONT_INITS
from .layers import ACTIVATIONS, Filterbank, MeanStdPool
from .network import _check_sizes, _Network, _rng
# Callers import these from here, beside the models they belong to.
from .network import HIDDEN_ACTIVATIONS, UNLABELED, LossTerms  # noqa: F401

POOLINGS = ("meanstd", "meanlogstd")  # how the segment model summarizes codes over time
# How a filterbank front end learns: every filter weight, only centre frequencies and
# window, or not at all (the control: a fixed spectrogram of the chosen start).
FRONT_LEARNING = ("free", "parametric", "frozen")
CODE_ACTIVATIONS = tuple(ACTIVATIONS)


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
        ``decoder_hidden`` is given (``()`` makes the decoder one linear layer).
    decoder_hidden : sequence of int or None
    classifier_hidden : int
        Width of the classifier's single hidden layer (128, tanh); 0 makes the
        classifier one affine map (logistic regression on the code).
    gamma : float in [0, 1]
        Weight of the reconstruction term; 1 is a plain autoencoder, 0 a plain
        classifier on top of the encoder.
    activation : {"tanh", "sigmoid", "relu"}
        Activation of every hidden layer.
    code_activation : {"tanh", "sigmoid", "relu", "identity"} or None
        Activation of the code layer; None uses ``activation`` (the study).
    dtype : float32 (training) or float64 (gradient checks).
    seed : int or numpy.random.Generator
        Source of the initial weights.
    init : {"glorot", "he", "normal"} or None
        Weight initializer; None picks He for ReLU and Glorot otherwise.

    Notes
    -----
    Inputs are standardized inside the model, z = (x - input_mean) / input_scale,
    with statistics set by :meth:`fit_scaling` (identity until then), so the
    scaling travels with the weights. The decoder reconstructs z.
    """

    _parts = ("encoder", "decoder", "classifier")
    reconstructs = True

    def __init__(self, input_dim=500, n_classes=4, code_dim=64, encoder_hidden=(256, 192, 128),
                 decoder_hidden=None, classifier_hidden=128, gamma=0.9, activation="tanh",
                 code_activation=None, dtype=np.float32, seed=0, init=None):
        super().__init__(input_dim, n_classes, activation, dtype, init)
        _check_sizes(code_dim=code_dim)
        if classifier_hidden != 0:
            _check_sizes(classifier_hidden=classifier_hidden)
        decoder_hidden = (tuple(reversed(tuple(encoder_hidden))) if decoder_hidden is None
                          else tuple(decoder_hidden))
        _check_sizes(**{f"encoder_hidden[{i}]": h for i, h in enumerate(encoder_hidden)},
                     **{f"decoder_hidden[{i}]": h for i, h in enumerate(decoder_hidden)})
        self.code_dim = int(code_dim)
        self.encoder_hidden = tuple(int(h) for h in encoder_hidden)
        self.decoder_hidden = tuple(int(h) for h in decoder_hidden)
        self.classifier_hidden = int(classifier_hidden)
        self.code_activation = (None if code_activation is None
                                else _check_activation_code(code_activation))
        self.gamma = gamma
        rng = _rng(seed)
        widths = self.stack_widths(self.config())
        self.encoder = self._build(widths["encoder"], rng,
                                   output=self.code_activation or self.activation)
        self.decoder = self._build(widths["decoder"], rng, output="identity")
        self.classifier = self._build(widths["classifier"], rng, output="identity")
        # The input is data: no gradient w.r.t. it is needed, so the first layer skips dx.
        self.encoder.layers[0].input_grad = False

    @property
    def gamma(self):
        return self._gamma

    @gamma.setter
    def gamma(self, value):
        if not (isinstance(value, (int, float, np.floating)) and 0.0 <= value <= 1.0):
            raise ValueError(f"gamma must be a number in [0, 1], got {value!r}")
        self._gamma = float(value)

    # How many numbers the classifier reads per code unit (the segment model pools two).
    classifier_inputs_per_code = 1

    @classmethod
    def stack_widths(cls, config):
        """Layer widths of each stack for a :meth:`config` dict, e.g. {"encoder": (500, ..., 64)}."""
        hidden = list(config["encoder_hidden"])
        decoder = config.get("decoder_hidden")
        decoder = hidden[::-1] if decoder is None else list(decoder)
        classifier_hidden = [config["classifier_hidden"]] if config["classifier_hidden"] else []
        return {"encoder": (config["input_dim"], *hidden, config["code_dim"]),
                "decoder": (config["code_dim"], *decoder, config["input_dim"]),
                "classifier": (cls.classifier_inputs_per_code * config["code_dim"],
                               *classifier_hidden, config["n_classes"])}

    def config(self):
        """Constructor arguments (JSON-friendly) that rebuild this architecture."""
        return {"input_dim": self.input_dim, "n_classes": self.n_classes,
                "code_dim": self.code_dim, "encoder_hidden": list(self.encoder_hidden),
                "decoder_hidden": list(self.decoder_hidden),
                "classifier_hidden": self.classifier_hidden, "gamma": self.gamma,
                "activation": self.activation, "code_activation": self.code_activation,
                "dtype": self.dtype.name, "init": self.init}

    # ----- forward pieces ------------------------------------------------------------
    def encode(self, x):
        """Codes f(x). x: (N, input_dim) -> (N, code_dim)."""
        return self._map(x, self.encoder.forward)

    def reconstruct(self, x):
        """Reconstructions g(f(x)) in the units of x. x: (N, input_dim) -> (N, input_dim)."""
        z_hat = self._map(x, lambda z: self.decoder.forward(self.encoder.forward(z)))
        return z_hat * self.input_scale + self.input_mean

    def logits(self, x):
        """Classifier scores before the softmax. x: (N, input_dim) -> (N, n_classes)."""
        return self._map(x, lambda z: self.classifier.forward(self.encoder.forward(z)))

    def _inference(self, z, y):
        code = self.encoder.forward(z)
        logits = self.classifier.forward(code)
        return (F.sum_squared_error(self.decoder.forward(code), z)[0],
                F.masked_softmax_cross_entropy(logits, y)[0], logits)

    # ----- the joint loss and backpropagation ----------------------------------------
    def loss_and_gradients(self, x, y):
        """Joint loss and the gradient of every parameter.

        Parameters
        ----------
        x : ndarray, shape (N, input_dim)
        y : ndarray of int, shape (N,); -1 marks an unlabeled window, which
            counts in the reconstruction and not in the cross-entropy

        Returns
        -------
        terms : LossTerms
            reconstruction (mean over all N windows), cross_entropy (mean over
            the labeled ones) and total = gamma * reconstruction
            + (1 - gamma) * cross_entropy.
        grads : dict
            Same keys and shapes as :meth:`parameters`.
        logits : ndarray, shape (N, n_classes)

        Notes
        -----
        dL/dx_hat  = gamma * 2 (x_hat - z) / N
        dL/dlogits = (1 - gamma) * (softmax(logits) - onehot(y)) / N_labeled, 0 on unlabeled rows
        dL/dcode   = decoder backward of dL/dx_hat + classifier backward of dL/dlogits
        """
        x, y = self._check_batch(x, y)
        z = self._standardize(x)
        code = self.encoder.forward(z)
        x_hat = self.decoder.forward(code)
        logits = self.classifier.forward(code)

        reconstruction, dx_hat = F.sum_squared_error(x_hat, z)
        cross_entropy, dlogits = F.masked_softmax_cross_entropy(logits, y)
        _, dx_hat, dlogits = F.joint_loss(reconstruction, dx_hat, cross_entropy, dlogits,
                                          self.gamma)

        # The code feeds two heads, so by the chain rule its gradient is the sum of
        # what flows back from each: this addition is where the decoder's and the
        # classifier's objectives meet and shape the same encoder.
        dcode = F.fanout_backward(self.decoder.backward(dx_hat), self.classifier.backward(dlogits))
        self.encoder.backward(dcode)
        return self._terms(reconstruction, cross_entropy), self.gradients(), logits

    def __repr__(self):
        return (f"{type(self).__name__}(encoder={self.encoder}, decoder={self.decoder}, "
                f"classifier={self.classifier}, gamma={self.gamma})")


class SegmentAutoencoderNetwork(SoftmaxAutoencoderNetwork):
    """The softmax autoencoder at two time scales: frames are encoded and reconstructed,
    segments of frames are classified from their codes pooled over time.

    A segment is T frames of D features (e.g. 63 log spectra of 93 ms frames: 3 s). The
    encoder f and decoder g work on each frame alone; the codes of a segment's frames
    are summarized by their mean and standard deviation over time (:class:`MeanStdPool`)
    and the classifier reads that summary.

    Parameters
    ----------
    As :class:`SoftmaxAutoencoderNetwork`, with input_dim the width D of one frame;
    classifier_hidden 0 (the default) makes the classifier one affine map of the pooled codes.
    pooling : "meanstd" (mean and standard deviation of each code unit over the frames) or
        "meanlogstd" (mean and log standard deviation)
    front_end : dict or None. None: frames are features already (log spectra). A dict
        puts a learnable filterbank (:class:`layers.Filterbank`) on raw waveform frames of
        input_dim samples: {"filters": K, "init": "fourier" | "mel" | "gabor" | "random",
        "learning": "free" | "parametric" | "frozen", "anchor": L2-SP strength,
        "sample_rate": Hz}. Its log energies are standardized per band with statistics
        from :meth:`fit_scaling` and are what the encoder reads.

    Notes
    -----
    Inputs x have shape (N, T, D). With n = N * T frames,
    L = gamma * (1/n) sum_frames ||z - g(f(z))||^2 + (1 - gamma) * (1/N) sum_segments CE,
    and the code of every frame receives the decoder's gradient and, through the
    pooling, its share of the classifier's: they add at the code as in the window model.
    With a front end, z is the standardized log band energies u, and the decoder's target
    u is a constant (its gradient stopped): otherwise the front end could shrink its
    output to make reconstruction trivial. The front end learns through the encoder's
    input, from both terms, plus its L2-SP penalty anchor/2 ||theta - theta_0||^2.
    """

    classifier_inputs_per_code = 2  # mean and standard deviation of each code unit
    no_decay = ()  # parameter names weight decay must leave alone (see nn.optim.Adam)

    def __init__(self, input_dim=1025, n_classes=4, code_dim=64, encoder_hidden=(256,),
                 decoder_hidden=(), classifier_hidden=0, gamma=0.1, activation="tanh",
                 code_activation=None, dtype=np.float32, seed=0, init=None, pooling="meanstd",
                 front_end=None):
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        self.pooling = pooling  # set first: the parent's constructor reads config()
        self.front_end = _check_front_end(front_end)
        super().__init__(input_dim=input_dim, n_classes=n_classes, code_dim=code_dim,
                         encoder_hidden=encoder_hidden, decoder_hidden=decoder_hidden,
                         classifier_hidden=classifier_hidden, gamma=gamma, activation=activation,
                         code_activation=code_activation, dtype=dtype, seed=seed, init=init)
        self.pool = MeanStdPool(log_std=pooling == "meanlogstd")
        self.front = None
        if self.front_end is not None:
            spec = self.front_end
            front_rng = (seed if isinstance(seed, np.random.Generator)
                         else np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]))
            self.front = Filterbank(self.input_dim, spec["filters"], init=spec["init"],
                                    rng=front_rng, sample_rate=spec["sample_rate"],
                                    parametric=spec["learning"] == "parametric",
                                    anchor=spec["anchor"], dtype=self.dtype)
            self.band_mean = np.zeros(spec["filters"], dtype=self.dtype)
            self.band_scale = np.ones(spec["filters"], dtype=self.dtype)
            if spec["learning"] != "frozen":
                self._parts = ("front", *SoftmaxAutoencoderNetwork._parts)
                self.no_decay = ("front.",)  # held near its start by L2-SP, not decayed to 0
                self.encoder.layers[0].input_grad = True  # the front end learns through it

    def config(self):
        """Constructor arguments (JSON-friendly) that rebuild this architecture."""
        return {**super().config(), "pooling": self.pooling, "front_end": self.front_end}

    @classmethod
    def stack_widths(cls, config):
        widths = super().stack_widths(config)
        front = config.get("front_end")
        if front:  # the encoder reads K band energies, and the decoder gives them back
            widths["encoder"] = (front["filters"], *widths["encoder"][1:])
            widths["decoder"] = (*widths["decoder"][:-1], front["filters"])
        return widths

    @classmethod
    def extra_parameter_count(cls, config):
        """Weights outside the dense stacks: the front end's (see :func:`parameter_count`)."""
        front = config.get("front_end")
        if not front or front.get("learning") == "frozen":
            return 0
        if front.get("learning") == "parametric":
            return int(front["filters"]) + int(config["input_dim"])
        return 2 * int(front["filters"]) * int(config["input_dim"])

    def buffers(self):
        """Per-band standardization and the front end's starting point (for its drift and
        its L2-SP anchor), when there is a front end."""
        if self.front is None:
            return {}
        return {"band_mean": self.band_mean, "band_scale": self.band_scale,
                **{f"front.initial.{k}": v for k, v in self.front.initial.items()},
                **({f"front.{k}": v for k, v in self.front.params.items()}
                   if self.front_end["learning"] == "frozen" else {})}

    def fit_scaling(self, x):
        """The frames' standardization; with a front end, its per-band statistics of the
        log energies at the start (the waveform itself is read unscaled)."""
        if self.front is None:
            return super().fit_scaling(x)
        x = self._check_x(x)
        if len(x) == 0:
            raise ValueError("cannot fit the input scaling on zero windows")
        bands = self.front.forward(self._scaling_rows(x))
        self.band_mean[...] = bands.mean(axis=0, dtype=np.float64)
        std = bands.std(axis=0, dtype=np.float64)
        self.band_scale[...] = np.where(std > 1e-8, std, 1.0)

    def _reconstruction_target(self, u):
        """What the decoder aims at: the encoder's input u itself, a constant for
        backpropagation (a gradient check holds it fixed by overriding this)."""
        return u

    def _frame_features(self, frames):
        """What the encoder reads of frames (n, input_dim): the frames themselves, or the
        front end's standardized log band energies (n, K)."""
        if self.front is None:
            return frames
        u = self.front.forward(frames)
        u -= self.band_mean
        u /= self.band_scale
        return u

    # ----- segments in, frames inside ------------------------------------------------
    def _check_x(self, x):
        """An array (N, T, input_dim) is checked whole; a lazy set of segments (anything
        with a 3-d ``shape`` that can be indexed, e.g. ``data.segments.Segments``) is
        checked chunk by chunk as it is read."""
        if not isinstance(x, np.ndarray) and hasattr(x, "shape") and hasattr(x, "__getitem__"):
            if len(x.shape) != 3 or x.shape[2] != self.input_dim:
                raise ValueError(f"x must have shape (N, T, {self.input_dim}), got {x.shape}")
            return x
        x = np.asarray(x)
        if x.ndim != 3 or x.shape[2] != self.input_dim or x.shape[1] < 1:
            raise ValueError(f"x must have shape (N, T, {self.input_dim}) with T >= 1, "
                             f"got {x.shape}")
        return _Network._check_x(self, x.reshape(-1, self.input_dim)).reshape(x.shape)

    def _rows_per_example(self, x):
        return int(x.shape[1])  # T frames per segment

    def _check_chunk(self, chunk):
        # A lazy set of segments is checked as each chunk is read (NaN, shape).
        return self._check_x(chunk)

    def _scaling_rows(self, x, max_segments=64):
        """The frames of at most 64 evenly spaced segments (about 4000 frames): the
        standardization's statistics, without reading every frame of a dataset."""
        picked = np.unique(np.linspace(0, len(x) - 1, min(len(x), max_segments)).astype(np.int64))
        return self._check_x(x[picked]).reshape(-1, self.input_dim)

    def standardized(self, x):
        """What the encoder reads and the decoder aims at, one row per frame: z = (x -
        input_mean) / input_scale (N * T, input_dim), or the standardized band energies
        (N * T, K) with a front end."""
        return self._map(x, lambda z: self._frame_features(z.reshape(-1, self.input_dim)))

    def reconstruction_pair(self, x):
        """(target, reconstruction) per frame in the loss's units: two (N * T, D') arrays."""
        def pair(z):
            u = self._frame_features(z.reshape(-1, self.input_dim))
            return np.stack([u, self.decoder.forward(self.encoder.forward(u))])
        both = np.concatenate([pair(z) for _, z in self._chunks(x)], axis=1)
        return both[0], both[1]

    def _encode_frames(self, z):
        n, T, D = z.shape
        u = self._frame_features(z.reshape(n * T, D))
        return self.encoder.forward(u).reshape(n, T, self.code_dim)

    def encode(self, x):
        """Codes f(z) of every frame. x: (N, T, input_dim) -> (N, T, code_dim)."""
        return self._map(x, self._encode_frames)

    def pooled_codes(self, x):
        """Each segment's summary [mean, std] of its frames' codes: (N, T, D) -> (N, 2 * code_dim)."""
        return self._map(x, lambda z: self.pool.forward(self._encode_frames(z)))

    def reconstruct(self, x):
        """Reconstructed frames in the units of x: (N, T, input_dim) -> (N, T, input_dim).
        With a front end, the reconstructed log band energies in their own units
        (N, T, K): a filterbank's energies cannot be turned back into a waveform."""
        z_hat = self._map(x, lambda z: self.decoder.forward(self._encode_frames(z)
                                                            .reshape(-1, self.code_dim))
                          .reshape(len(z), z.shape[1], -1))
        if self.front is not None:
            return z_hat * self.band_scale + self.band_mean
        return z_hat * self.input_scale + self.input_mean

    def logits(self, x):
        """Classifier scores of each segment. x: (N, T, input_dim) -> (N, n_classes)."""
        return self._map(x, lambda z: self.classifier.forward(self.pool.forward(
            self._encode_frames(z))))

    def _inference(self, z, y):
        n, T, D = z.shape
        u = self._frame_features(z.reshape(n * T, D))
        code = self.encoder.forward(u)
        logits = self.classifier.forward(self.pool.forward(code.reshape(n, T, self.code_dim)))
        return (F.sum_squared_error(self.decoder.forward(code), self._reconstruction_target(u))[0],
                F.masked_softmax_cross_entropy(logits, y)[0], logits)

    def loss_and_gradients(self, x, y):
        """Joint loss of a batch of segments and the gradient of every parameter.

        Parameters
        ----------
        x : ndarray, shape (N, T, input_dim), N segments of T frames
        y : ndarray of int, shape (N,); -1 marks an unlabeled segment

        Returns
        -------
        terms : LossTerms (reconstruction: mean over the N * T frames; cross_entropy:
            mean over the labeled segments)
        grads : dict, same keys and shapes as :meth:`parameters`
        logits : ndarray, shape (N, n_classes)

        Notes
        -----
        dL/dx_hat    = gamma * 2 (x_hat - z) / (N T)                     per frame
        dL/dlogits   = (1 - gamma) * (softmax(logits) - onehot(y)) / N_labeled
        dL/dpooled   = classifier backward of dL/dlogits                 (N, 2K)
        dL/dcode_t   = decoder backward of dL/dx_hat_t
                       + pooling backward: dmu / T + ds * (code_t - mu) / (T s)
        """
        x, y = self._check_batch(x, y)
        z = self._standardize(x)
        n, T, D = z.shape
        u = self._frame_features(z.reshape(n * T, D))  # the frames, or the band energies
        code = self.encoder.forward(u)
        x_hat = self.decoder.forward(code)
        logits = self.classifier.forward(self.pool.forward(code.reshape(n, T, self.code_dim)))

        # The target is held constant: sum_squared_error gives no gradient to it.
        reconstruction, dx_hat = F.sum_squared_error(x_hat, self._reconstruction_target(u))
        cross_entropy, dlogits = F.masked_softmax_cross_entropy(logits, y)
        _, dx_hat, dlogits = F.joint_loss(reconstruction, dx_hat, cross_entropy, dlogits,
                                          self.gamma)

        # The classifier's gradient reaches every frame's code through the pooling; the
        # decoder's reaches it directly. At the code the two add, as in the window model.
        dcode_from_classifier = self.pool.backward(self.classifier.backward(dlogits))
        dcode = F.fanout_backward(self.decoder.backward(dx_hat),
                                  dcode_from_classifier.reshape(n * T, self.code_dim))
        du = self.encoder.backward(dcode)
        terms = self._terms(reconstruction, cross_entropy)
        if "front" in self._parts:
            # u = (c - band_mean) / band_scale, so dc = du / band_scale.
            self.front.backward(du / self.band_scale)
            terms = terms._replace(total=terms.total + self.front.penalty())
        return terms, self.gradients(), logits


def _check_front_end(spec):
    """A front-end description with every field checked (None: no front end)."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise ValueError(f"front_end must be a dict or None, got {spec!r}")
    spec = {"init": "mel", "learning": "free", "anchor": 0.0, "sample_rate": 22050.0, **spec}
    unknown = set(spec) - {"filters", "init", "learning", "anchor", "sample_rate"}
    if unknown:
        raise ValueError(f"front_end has unknown fields: {', '.join(sorted(unknown))}")
    _check_sizes(**{"front_end filters": spec.get("filters")})
    if spec["init"] not in FRONT_INITS:
        raise ValueError(f"front_end init must be one of {', '.join(FRONT_INITS)}, "
                         f"got {spec['init']!r}")
    if spec["learning"] not in FRONT_LEARNING:
        raise ValueError(f"front_end learning must be one of {', '.join(FRONT_LEARNING)}, "
                         f"got {spec['learning']!r}")
    if spec["init"] in ("random", "gabor") and spec["learning"] == "parametric":
        raise ValueError(f"a {spec['init']} front end has no centre frequencies sharing one "
                         "window to learn: use learning 'free' or 'frozen'")
    for name, low in (("anchor", 0.0), ("sample_rate", 1e-9)):
        value = spec[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                low <= value < np.inf):
            raise ValueError(f"front_end {name} must be a number >= {low:g}, got {value!r}")
    return {"filters": int(spec["filters"]), "init": spec["init"], "learning": spec["learning"],
            "anchor": float(spec["anchor"]), "sample_rate": float(spec["sample_rate"])}


def _check_activation_code(name):
    if name not in CODE_ACTIVATIONS:
        raise ValueError(f"code_activation must be one of {', '.join(CODE_ACTIVATIONS)}, "
                         f"got {name!r}")
    return name


class _Classifier(_Network):
    """A network that is one classifier stack on the standardized input (no code, no decoder)."""

    _parts = ("classifier",)

    def logits(self, x):
        """x: (N, input_dim) -> (N, n_classes)."""
        return self._map(x, self.classifier.forward)

    def _inference(self, z, y):
        logits = self.classifier.forward(z)
        return 0.0, F.masked_softmax_cross_entropy(logits, y)[0], logits

    def loss_and_gradients(self, x, y):
        """Cross-entropy, its gradients and the logits (N, n_classes), as for the autoencoder.

        Notes
        -----
        dlogits = (softmax(logits) - onehot(y)) / N_labeled on labeled rows, 0 on unlabeled
        ones (y = -1); N_labeled = N when every row is labeled.
        """
        x, y = self._check_batch(x, y)
        logits = self.classifier.forward(self._standardize(x))
        cross_entropy, dlogits = F.masked_softmax_cross_entropy(logits, y)
        self.classifier.backward(dlogits)
        return self._terms(0.0, cross_entropy), self.gradients(), logits


class SoftmaxClassifier(_Classifier):
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

    def __init__(self, input_dim=64, n_classes=4, hidden=128, activation="tanh",
                 dtype=np.float32, seed=0):
        super().__init__(input_dim, n_classes, activation, dtype)
        _check_sizes(hidden=hidden)
        self.hidden = int(hidden)
        self.classifier = self._build(self.stack_widths(self.config())["classifier"], _rng(seed),
                                      output="identity")
        self.classifier.layers[0].input_grad = False

    @staticmethod
    def stack_widths(config):
        """Layer widths of the stack for a :meth:`config` dict."""
        return {"classifier": (config["input_dim"], config["hidden"], config["n_classes"])}

    def config(self):
        """Constructor arguments (JSON-friendly) that rebuild this architecture."""
        return {"input_dim": self.input_dim, "n_classes": self.n_classes, "hidden": self.hidden,
                "activation": self.activation, "dtype": self.dtype.name}

class LogisticRegression(_Classifier):
    """Multinomial logistic regression: one affine map and the softmax, the linear baseline.

    Parameters
    ----------
    input_dim, n_classes : int
    dtype, seed : as for the autoencoder

    Notes
    -----
    logits = z @ W + b on standardized inputs z; the loss is the softmax
    cross-entropy, so dlogits = (softmax(logits) - onehot(y)) / N_labeled,
    dW = z.T @ dlogits, db = sum over the batch of dlogits.
    """

    def __init__(self, input_dim=62, n_classes=4, dtype=np.float32, seed=0):
        super().__init__(input_dim, n_classes, "tanh", dtype)
        self.classifier = self._build(self.stack_widths(self.config())["classifier"], _rng(seed),
                                      output="identity")
        self.classifier.layers[0].input_grad = False

    @staticmethod
    def stack_widths(config):
        """Layer widths of the stack for a :meth:`config` dict."""
        return {"classifier": (config["input_dim"], config["n_classes"])}

    def config(self):
        """Constructor arguments (JSON-friendly) that rebuild this architecture."""
        return {"input_dim": self.input_dim, "n_classes": self.n_classes,
                "dtype": self.dtype.name}



NETWORKS = {cls.__name__: cls for cls in (SoftmaxAutoencoderNetwork, SegmentAutoencoderNetwork,
                                          SoftmaxClassifier, LogisticRegression)}


def parameter_count(cls, config):
    """How many weights and biases a network of class ``cls`` built from ``config`` holds,
    computed without allocating them (a model file is checked with it before building)."""
    dense = sum(int(a) * int(b) + int(b) for widths in cls.stack_widths(config).values()
                for a, b in zip(widths[:-1], widths[1:]))
    extra = getattr(cls, "extra_parameter_count", None)
    return dense + (extra(config) if extra else 0)
