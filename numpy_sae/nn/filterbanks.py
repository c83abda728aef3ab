"""Starting points for a learnable filterbank: Fourier bins, mel-spaced bands, or random.

A front end that learns from the waveform works best started where spectrograms
already are (Zeghidour et al. 2018; SincNet; LEAF) and fine-tuned from there.
``fourier`` and ``mel`` give centre frequencies (radians per sample) that share one
Hann window: every band is as narrow as the frame allows. ``gabor`` gives each
mel-spaced band a Gaussian window as wide as the mel band is (LEAF's start), so the
bands tile the spectrum; ``random`` gives free rows.
"""

import numpy as np

FRONT_INITS = ("fourier", "mel", "gabor", "random")


def hann(n, dtype=np.float64):
    """The periodic Hann window of n samples: 0.5 - 0.5 cos(2 pi j / n), shape (n,)."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(dtype)


def fourier_frequencies(n_filters, frame_length):
    """Centre frequencies of ``n_filters`` rfft bins spread evenly from 0 to Nyquist.

    With n_filters = frame_length // 2 + 1 these are every bin, 2 pi k / N, and the
    layer at init computes log(|rfft(hann * x)|**2 + eps) exactly. Shape (n_filters,).
    """
    half = frame_length // 2
    bins = np.round(np.linspace(0, half, n_filters)).astype(np.int64)
    return 2 * np.pi * bins / frame_length


def hz_to_mel(f):
    """The mel scale (O'Shaughnessy): 2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_frequencies(n_filters, sample_rate, low_hz=30.0):
    """``n_filters`` centre frequencies equally spaced in mel from ``low_hz`` to Nyquist,
    in radians per sample, shape (n_filters,)."""
    mels = np.linspace(hz_to_mel(low_hz), hz_to_mel(sample_rate / 2), n_filters)
    return 2 * np.pi * mel_to_hz(mels) / sample_rate


def random_filters(rng, n_filters, frame_length):
    """Free filter rows, Glorot uniform over (frame_length, 2 n_filters): shape (2K, N)."""
    limit = np.sqrt(6.0 / (frame_length + 2 * n_filters))
    return rng.uniform(-limit, limit, size=(2 * n_filters, frame_length))


def initial_frequencies(init, n_filters, frame_length, sample_rate):
    """Centre frequencies (radians per sample) of a named start: "fourier" or "mel"."""
    if init == "fourier":
        return fourier_frequencies(n_filters, frame_length)
    if init == "mel":
        return mel_frequencies(n_filters, sample_rate)
    raise ValueError(f"front_init must be one of {', '.join(FRONT_INITS)}, got {init!r}")


def gabor_filters(n_filters, frame_length, sample_rate, low_hz=30.0):
    """Filter pairs (2K, N) at mel-spaced centres, each band as wide as its mel band.

    Notes
    -----
    W[k, j] = g_k(j) cos(omega_k j), W[K+k, j] = -g_k(j) sin(omega_k j), with a Gaussian
    window g_k centred in the frame whose spectrum has standard deviation B_k / 2, B_k the
    distance to the neighbouring centres: sigma_t = 2 / B_k samples (at most N / 6, so the
    window fits the frame). Each window sums to N / 2, as a Hann window does.
    """
    omega = mel_frequencies(n_filters, sample_rate, low_hz)
    spacing = np.gradient(omega) if n_filters > 1 else np.array([np.pi])
    sigma = np.minimum(2.0 / np.maximum(spacing, 1e-9), frame_length / 6.0)
    j = np.arange(frame_length)
    g = np.exp(-0.5 * ((j[None, :] - frame_length / 2) / sigma[:, None]) ** 2)
    g *= (frame_length / 2) / g.sum(axis=1, keepdims=True)
    phase = omega[:, None] * j[None, :]
    return np.concatenate([g * np.cos(phase), -g * np.sin(phase)], axis=0)
