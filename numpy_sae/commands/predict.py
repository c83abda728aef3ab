"""Genre probabilities for one audio file, with a trained model and its stored settings.

The file goes through exactly what the training data went through (sample
rate, downsampling, every window of the grid, input features and the model's
own scaling), then the window probabilities are averaged: a song-level answer.
"""

import numpy as np

from ..data.audio import downsample, frame, load_audio
from ..modelfile import ModelFileError, load_model_file
from ..data.features import feature_dim, make_features
from ..data.gtzan import Preprocessing


def load_audio_model(path):
    """Load a model file that can classify audio: weights plus the settings of its data.

    Returns (model, meta). Raises ModelFileError when the file lacks what
    ``predict`` needs (genre names, preprocessing, input kind), e.g. a model
    saved by ``SoftmaxAutoencoder.save`` without them, or when they disagree
    with the network's shape.
    """
    model, meta, _ = load_model_file(path)
    try:
        names = [str(n) for n in meta["genre_names"]]
        pre = Preprocessing(**meta["preprocessing"])
        width = feature_dim(meta["input"], pre.window)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: has no usable audio settings ({exc}); models written by "
                             "numpy-sae train have them") from None
    if len(names) != model.n_classes or width != model.input_dim:
        raise ModelFileError(f"{path}: audio settings ({len(names)} genres, {width} inputs) do "
                             f"not match the network ({model.n_classes} classes, "
                             f"{model.input_dim} inputs)")
    meta = dict(meta, genre_names=names)
    return model, meta


def predict_file(model, meta, path):
    """Song-level genre probabilities of one WAV/AU file.

    Parameters
    ----------
    model : a loaded network
    meta : dict stored with the model (preprocessing, input kind)
    path : str or Path

    Returns
    -------
    proba : float (n_classes,), mean of the window probabilities
    n_windows : int

    Raises
    ------
    AudioError (a ValueError) for unreadable files or files shorter than one window.
    """
    pre = Preprocessing(**meta["preprocessing"])
    signal = downsample(load_audio(path, pre.sample_rate), pre.factor, pre.method)
    if len(signal) < pre.window:
        raise ValueError(f"{path}: too short ({len(signal)} samples after downsampling, one "
                         f"window needs {pre.window})")
    windows = frame(signal, pre.window, pre.hop)  # every window, not only the first max_windows
    proba = model.predict_proba(make_features(windows, meta["input"]))
    return proba.mean(axis=0, dtype=np.float64), len(windows)
