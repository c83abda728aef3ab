"""What the network sees of a window: the raw waveform (the study's premise) or its spectrum.

``"waveform"`` passes the downsampled samples through unchanged: no feature
engineering at all. ``"spectrum"`` replaces each window by the logarithm of
its FFT magnitude, an ablation that shows what one classic feature buys.
``"descriptors"`` is the feature baseline's input: the engineered descriptors
of 3 s segments of full-rate audio (:mod:`numpy_sae.data.descriptors`), which
arrive already computed. The model file records which one a model was trained on.
"""

import numpy as np
import scipy.fft

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


def make_features(windows, kind="waveform", taper=False):
    """Network inputs from windows (or from the frames of segments).

    Parameters
    ----------
    windows : float32 (..., window), e.g. (N, window) or (N, T, window)
    kind : "waveform" or "spectrum"
    taper : multiply each window by a Hann window before the FFT (the segment model's
        frames overlap by half, and the taper keeps each frame's spectrum from leaking)

    Returns
    -------
    float32 (..., feature_dim(kind, window))

    Notes
    -----
    spectrum: log(|rfft(x)| + 1e-4) of each window (x * hann with ``taper``).
    """
    check_kind(kind)
    if kind in ("waveform", "descriptors"):
        return np.asarray(windows, dtype=np.float32)
    if taper:
        windows = windows * hann(windows.shape[-1])
    # scipy's FFT keeps float32 in single precision; numpy's was 10x slower on frames.
    magnitude = np.abs(scipy.fft.rfft(windows, axis=-1))
    return np.log(magnitude + _FLOOR).astype(np.float32)


def hann(n):
    """The periodic Hann window of n samples, float32: 0.5 - 0.5 cos(2 pi k / n)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)
