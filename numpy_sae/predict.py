"""Genre probabilities for one audio file, with a trained model and its stored settings.

The file goes through exactly what the training data went through (sample
rate, downsampling, every window of the grid, input features and the model's
own scaling), then the window probabilities are averaged: a song-level answer.
"""

import numpy as np

from .audio import frame, load_audio, downsample
from .features import make_features
from .gtzan import Preprocessing


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
