"""Model kinds: one table from a kind's name to what builds it, what it reads and which
settings it uses.

Commands look a kind up in :data:`MODEL_KINDS` instead of branching on its
name: the builder turns run settings and a dataset into an AudioModel, the
``data`` field says which arrays the kind is trained on, ``settings`` lists
the run settings it reads (a header names only those), and ``defaults``
holds the settings it wants when the user gives none. A new kind is one entry.
"""

from dataclasses import dataclass, field
from typing import Callable

from ..audio_model import AudioModel
from ..data.descriptors import N_FEATURES
from ..data.features import feature_dim
from ..nn.model import (
    LogisticRegression,
    SegmentAutoencoderNetwork,
    SoftmaxAutoencoderNetwork,
    SoftmaxClassifier,
)

DECODERS = ("mirror", "linear")  # the encoder's hidden widths reversed, or one linear layer
TRAINING = ("epochs", "batch_size", "optimizer", "lr", "weight_decay", "patience")
WINDOWS = ("input", "factor", "method", "window", "crops")
CODE = ("gamma", "code_dim", "code_activation", "decoder")
SEGMENTS = ("input", "factor", "method", "window", "hop", "segment_seconds", "pooling", "crops",
            "gain_db")
FRONT = ("front_end", "front_init", "front_filters", "front_learning", "front_anchor",
         "front_warmup", "front_lr_scale")
FRONT_ENDS = ("none", "filterbank")  # what a segment model puts before its encoder


@dataclass(frozen=True)
class ModelKind:
    """One kind of model.

    name : what --model takes
    summary : one line for --help
    data : "signals" (downsampled clips, cut into windows) or "descriptors" (engineered
        descriptors of 3 s segments)
    build : callable(settings, clipset, rng, gamma) -> the network
    settings : names of the RunSettings fields the kind uses, in the order headers show them
    reconstructs : whether it has a decoder (and so can learn from unlabeled audio)
    segmented : whether it reads segments of frames (``--segment-seconds``) or single windows
    defaults : settings the kind wants when the user gives no value
    """

    name: str
    summary: str
    data: str
    build: Callable
    settings: tuple
    reconstructs: bool = False
    segmented: bool = False
    defaults: dict = field(default_factory=dict)

    @property
    def reads_descriptors(self):
        return self.data == "descriptors"

    def audio_model(self, settings, clipset, rng, gamma=None):
        """The kind's network with its whole input contract; scaling not fitted yet."""
        network = self.build(settings, clipset, rng, gamma)
        return AudioModel(network, clipset.preprocessing,
                          "descriptors" if self.reads_descriptors else settings.input,
                          clipset.genre_names)


def _joint(settings, clipset, rng, gamma):
    if settings.decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {settings.decoder!r}")
    return SoftmaxAutoencoderNetwork(
        input_dim=feature_dim(settings.input, clipset.preprocessing.window),
        n_classes=len(clipset.genre_names), code_dim=settings.code_dim,
        code_activation=settings.code_activation,
        decoder_hidden=() if settings.decoder == "linear" else None,
        gamma=settings.gamma if gamma is None else gamma, seed=rng)


def _segment(settings, clipset, rng, gamma):
    return SegmentAutoencoderNetwork(
        input_dim=feature_dim(settings.input, clipset.preprocessing.window),
        n_classes=len(clipset.genre_names), code_dim=settings.code_dim,
        encoder_hidden=SEGMENT_ENCODER_HIDDEN, decoder_hidden=(), classifier_hidden=0,
        code_activation=settings.code_activation, pooling=settings.pooling,
        gamma=settings.gamma if gamma is None else gamma, seed=rng,
        front_end=front_end_spec(settings, clipset.preprocessing.rate))


def front_end_spec(settings, sample_rate):
    """The network's front_end argument for the run settings (None: no front end)."""
    if settings.front_end == "none":
        return None
    if settings.input != "waveform":
        raise ValueError(f"--front-end {settings.front_end} reads the waveform: use --input "
                         f"waveform, not --input {settings.input}")
    if settings.front_filters > settings.window // 2 + 1:
        raise ValueError(f"--front-filters {settings.front_filters} is more than the "
                         f"{settings.window // 2 + 1} frequencies a {settings.window}-sample "
                         "frame resolves")
    return {"filters": settings.front_filters, "init": settings.front_init,
            "learning": settings.front_learning, "anchor": settings.front_anchor,
            "sample_rate": float(sample_rate)}


def _window_mlp(settings, clipset, rng, gamma):
    return SoftmaxClassifier(feature_dim(settings.input, clipset.preprocessing.window),
                             len(clipset.genre_names), hidden=128, seed=rng)


def _descriptor_logistic(settings, clipset, rng, gamma):
    return LogisticRegression(N_FEATURES, len(clipset.genre_names), seed=rng)


def _descriptor_mlp(settings, clipset, rng, gamma):
    return SoftmaxClassifier(N_FEATURES, len(clipset.genre_names), hidden=128, seed=rng)


# The segment model's settings, chosen by song-level cross-validation on real clips
# (README, "Learned encodings against feature engineering"): log spectra of 93 ms frames of
# full-rate audio (2048 samples, hop 1024, so 63 frames per 3 s segment), one tanh hidden
# layer of 256 units, a 64-unit tanh code, a linear decoder, logistic regression on the
# pooled codes; 24 random segments per song per epoch (nested selection chose 24 over 8
# in 13 of 15 outer folds) in batches of 16, 30 epochs, AdamW with decoupled weight decay 1.
SEGMENT_ENCODER_HIDDEN = (256,)
SEGMENT_DEFAULTS = {"input": "spectrum", "factor": 1, "window": 2048, "segment_seconds": 3.0,
                    "code_dim": 64, "code_activation": "tanh", "gamma": 0.1, "batch_size": 16,
                    "crops": 24, "epochs": 30, "weight_decay": 1.0}

# A fold of 50 songs gives ~500 descriptor segments: batches of 512 would be one step per epoch.
FEATURE_DEFAULTS = {"batch_size": 64}

MODEL_KINDS = {kind.name: kind for kind in (
    ModelKind("joint", "the softmax autoencoder on windows of the signal", "signals", _joint,
              TRAINING + CODE + WINDOWS, reconstructs=True),
    ModelKind("segment", "the softmax autoencoder on short frames of full-rate audio, "
              "classifying 3 s segments from the frames' codes pooled over time (mean and "
              "standard deviation)", "signals", _segment,
              TRAINING + ("gamma", "code_dim", "code_activation") + SEGMENTS + FRONT,
              reconstructs=True,
              segmented=True, defaults=SEGMENT_DEFAULTS),
    ModelKind("mlp", "the plain 2-layer classifier on the same windows", "signals", _window_mlp,
              TRAINING + WINDOWS),
    ModelKind("features-logistic", "MFCC and classic descriptors of 3 s segments of "
              "full-rate audio, logistic regression", "descriptors", _descriptor_logistic,
              TRAINING, defaults=FEATURE_DEFAULTS),
    ModelKind("features-mlp", "the same descriptors, the 2-layer classifier", "descriptors",
              _descriptor_mlp, TRAINING, defaults=FEATURE_DEFAULTS),
)}
MODELS = tuple(MODEL_KINDS)


def model_kind(name):
    """The kind called ``name``; ValueError naming the choices otherwise."""
    try:
        return MODEL_KINDS[name]
    except KeyError:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {name!r}") from None


def used_settings(settings):
    """The settings the run's model kind uses, name -> value (for headers and metrics.json)."""
    names = model_kind(settings.model).settings
    if getattr(settings, "front_end", "none") == "none":  # no front end: its options are idle
        names = tuple(n for n in names if n == "front_end" or n not in FRONT)
    return {name: getattr(settings, name) for name in names}


def describe_settings(settings):
    """One line naming the model and only the settings it uses."""
    shown = []
    for name, value in used_settings(settings).items():
        if name == "crops":
            value = value or "off (fixed grid)"
        elif name == "patience" and value is None:
            value = "off"
        elif name == "hop" and value is None:
            value = "half a window"
        elif isinstance(value, float):
            value = f"{value:g}"
        shown.append(f"{name.replace('_', ' ')} {value}")
    return f"model {settings.model}: " + ", ".join(shown)
