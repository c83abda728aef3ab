"""What the network sees of a window: the raw waveform (the study's premise) or its spectrum.

``"waveform"`` passes the downsampled samples through unchanged: no feature
engineering at all. ``"spectrum"`` replaces each window by the logarithm of
its FFT magnitude, an ablation that shows what one classic feature buys.
``"descriptors"`` is the feature baseline's input: the engineered descriptors
of 3 s segments of full-rate audio (:mod:`numpy_sae.data.descriptors`), which
arrive already computed. The model file records which one a model was trained on.
"""

import numpy as np

from .descriptors import N_FEATURES

SIGNAL_INPUTS = ("waveform", "spectrum")  # computed from windows of the downsampled signal
INPUT_KINDS = (*SIGNAL_INPUTS, "descriptors")
_FLOOR = 1e-4  # keeps log() finite on silent windows; about -80 dB below a full-scale bin


def feature_dim(kind, window):
    """Width of the network input for windows of ``window`` samples."""
    check_kind(kind)
    return {"waveform": window, "spectrum": window // 2 + 1, "descriptors": N_FEATURES}[kind]


def check_kind(kind):
    if kind not in INPUT_KINDS:
        raise ValueError(f"input must be one of {', '.join(INPUT_KINDS)}, got {kind!r}")
    return kind


def make_features(windows, kind="waveform"):
    """Network inputs from windows.

    Parameters
    ----------
    windows : float32 (N, window)
    kind : "waveform" or "spectrum"

    Returns
    -------
    float32 (N, feature_dim(kind, window))

    Notes
    -----
    spectrum: log(|rfft(x)| + 1e-4), one row per window.
    """
    check_kind(kind)
    if kind in ("waveform", "descriptors"):
        return windows
    magnitude = np.abs(np.fft.rfft(windows, axis=1))
    return np.log(magnitude + _FLOOR).astype(np.float32)
