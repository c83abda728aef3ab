"""Reading audio files into float32 mono signals, downsampling them, and cutting windows.

WAV goes through ``scipy.io.wavfile``; Sun/NeXT ``.au`` (the format of the
original Marsyas GTZAN archive) is parsed here with NumPy, since Python's
``sunau`` module is gone. Every failure raises :class:`AudioError` with the
file name and the reason, so a dataset builder can skip the file and say why.
"""

import math
import os
import stat
import struct
import warnings
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from .decoders import COMPRESSED_EXTENSIONS, decode_audio

NATIVE_EXTENSIONS = (".wav", ".au")  # read with NumPy and SciPy alone
AUDIO_EXTENSIONS = NATIVE_EXTENSIONS + COMPRESSED_EXTENSIONS  # the rest need the [audio] extra
DOWNSAMPLING_METHODS = ("mean", "poly")
MAX_SAMPLE_RATE = 768_000  # the highest rate audio interfaces record; beyond it, a bad header
MIN_SAMPLE_RATE = 1_000  # below any rate audio is stored at (telephony: 8000 Hz)
MAX_AMPLITUDE = 1_000.0  # float WAVs are nominally in [-1, 1]; far beyond, the data is not audio


class AudioError(ValueError):
    """A file that cannot be read as audio; the message names the file and the reason."""


# ----- WAV ---------------------------------------------------------------------------
MONO_BLOCK = 1 << 18  # frames converted at a time when channels are averaged on reading


def _wav_to_float(data, path, mono=False):
    """Integer or float WAV samples -> float32 in [-1, 1] (full scale of the format);
    with ``mono``, the mean of the channels (n,), made block by block, so a long stereo
    file never holds a float32 copy of all its channels (a 30 min 44.1 kHz file: 635 MB).

    Each conversion allocates one float32 array and scales it in place: a 30 s
    clip is 2.6 MB, and fresh allocations of that size cost page faults, which
    dominate the time of building a dataset.
    """
    if mono and data.ndim == 2 and data.shape[1] > 1:
        out = np.empty(data.shape[0], dtype=np.float32)
        for start in range(0, data.shape[0], MONO_BLOCK):
            block = _wav_to_float(data[start:start + MONO_BLOCK], path)
            out[start:start + MONO_BLOCK] = block.mean(axis=1, dtype=np.float32)
        return out
    kind = data.dtype.newbyteorder("=")  # RIFX files hold big-endian samples
    if kind in (np.float32, np.float64):
        return data.astype(np.float32, copy=False)
    # Scaling by a power of two is exact, so converting first and scaling second gives
    # the same float32 values as dividing in float64 and rounding at the end.
    scale = {np.dtype(np.uint8): 2.0 ** -7, np.dtype(np.int16): 2.0 ** -15,
             # scipy returns 24-bit samples left-justified in int32: one scale serves 24 and 32 bits
             np.dtype(np.int32): 2.0 ** -31, np.dtype(np.int64): 2.0 ** -63}.get(kind)
    if scale is None:
        raise AudioError(f"{path}: unsupported WAV sample type {kind}")
    out = data.astype(np.float32)
    if kind == np.uint8:  # 8-bit WAV is unsigned with 128 as silence
        out -= 128.0
    out *= scale
    return out


def _streamed_wav(path):
    """True when the RIFF or data chunk size says 0xFFFFFFFF: a stream of unknown length."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    data = head.find(b"data")
    return head[4:8] == b"\xff\xff\xff\xff" or (data >= 0 and head[data + 4:data + 8]
                                                   == b"\xff\xff\xff\xff")


def read_wav(path, mono=False):
    """Read a WAV file.

    Parameters
    ----------
    path : str or Path
    mono : bool, average the channels as the samples are converted (less memory)

    Returns
    -------
    samples : ndarray float32, shape (n_samples, n_channels), or (n_samples, 1) with mono
    rate : int, samples per second
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rate, data = wavfile.read(path, mmap=False)
        except UnboundLocalError:
            # scipy's own slip when its walk over the chunks never meets the data chunk
            # (a chunk of odd size written without its pad byte misaligns the rest).
            raise AudioError(f"{path}: not a readable WAV file (no data chunk where the "
                             "chunks lead: a chunk before it is damaged, or of odd size "
                             "without its pad byte)") from None
        except Exception as exc:  # scipy raises ValueError, struct.error, EOFError...
            raise AudioError(f"{path}: not a readable WAV file ({exc})") from None
    for w in caught:
        # scipy reads a cut-off file up to where it ends and only warns: that is
        # silent data loss for a dataset, so it is an error here. A streamed WAV (size
        # fields 0xFFFFFFFF: the writer did not know the length) is read to its end.
        if ("EOF" in str(w.message) or "premature" in str(w.message).lower()) \
                and not _streamed_wav(path) and not _data_chunk_complete(path):
            raise AudioError(f"{path}: truncated WAV file ({w.message})")
    samples = _wav_to_float(data, path, mono)
    if samples.ndim == 1:
        samples = samples[:, None]
    return samples, int(rate)


def _data_chunk_complete(path):
    """Whether the file holds every byte its data chunk declares. A wrong size in the RIFF
    header alone (some writers leave it stale) makes scipy warn, but loses nothing."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            fh.seek(12)
            while True:
                head = fh.read(8)
                if len(head) < 8:
                    return False
                chunk, length = head[:4], int.from_bytes(head[4:], "little")
                if chunk == b"data":
                    return fh.tell() + length <= size
                fh.seek(length + (length & 1), 1)
    except OSError:
        return False


# ----- Sun/NeXT AU -------------------------------------------------------------------
_AU_MAGIC = 0x2E736E64  # ".snd"
_AU_UNKNOWN_SIZE = 0xFFFFFFFF


def _mulaw_table():
    """The 256 G.711 mu-law codes decoded to 16-bit linear values."""
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.float32) / 32768.0


# encoding code -> (numpy dtype, bytes per sample, divisor to reach [-1, 1])
_AU_LINEAR = {
    2: (">i1", 1, 128.0),
    3: (">i2", 2, 32768.0),
    5: (">i4", 4, 2147483648.0),
    6: (">f4", 4, 1.0),
    7: (">f8", 8, 1.0),
}
_AU_NAMES = {1: "8-bit mu-law", 4: "24-bit linear PCM", 27: "8-bit A-law"}


def read_au(path):
    """Read a Sun/NeXT ``.au`` file (big-endian header, then samples).

    Supports 8-bit mu-law, 8/16/24/32-bit linear PCM and 32/64-bit float.

    Returns
    -------
    samples : ndarray float32, shape (n_samples, n_channels)
    rate : int
    """
    raw = Path(path).read_bytes()
    if len(raw) < 24:
        raise AudioError(f"{path}: too short for an AU header ({len(raw)} bytes)")
    magic, offset, size, encoding, rate, channels = struct.unpack(">6I", raw[:24])
    if magic != _AU_MAGIC:
        raise AudioError(f"{path}: not an AU file (bad magic number)")
    if offset < 24 or offset > len(raw):
        raise AudioError(f"{path}: AU data offset {offset} is outside the file")
    if channels < 1 or rate < 1:
        raise AudioError(f"{path}: AU header has {channels} channels at {rate} Hz")
    payload = raw[offset:]
    if size != _AU_UNKNOWN_SIZE:
        if size > len(payload):
            raise AudioError(f"{path}: truncated AU file (header says {size} data bytes, "
                             f"file holds {len(payload)})")
        payload = payload[:size]
    if encoding == 1:
        width = 1
    elif encoding == 4:
        width = 3
    elif encoding in _AU_LINEAR:
        width = _AU_LINEAR[encoding][1]
    else:
        raise AudioError(f"{path}: unsupported AU encoding {encoding} "
                         f"({_AU_NAMES.get(encoding, 'unknown')})")
    frame = width * channels
    n_frames = len(payload) // frame
    payload = payload[:n_frames * frame]
    if encoding == 1:
        samples = _mulaw_table()[np.frombuffer(payload, dtype=np.uint8)]
    elif encoding == 4:
        b = np.frombuffer(payload, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = (b[:, 0] << 16) | (b[:, 1] << 8) | b[:, 2]
        value -= (value & 0x800000) << 1  # sign-extend 24 -> 32 bits
        samples = (value / 8388608.0).astype(np.float32)
    else:
        dtype, _, scale = _AU_LINEAR[encoding]
        samples = (np.frombuffer(payload, dtype=dtype) / scale).astype(np.float32)
    return samples.reshape(n_frames, channels), int(rate)


# ----- loading -----------------------------------------------------------------------
def resample(x, rate_in, rate_out):
    """Resample a 1-D signal by the exact rational ratio rate_out / rate_in (scipy resample_poly)."""
    if rate_in == rate_out:
        return x
    from scipy.signal import resample_poly  # importing scipy.signal takes about 1 s

    g = math.gcd(int(rate_in), int(rate_out))
    return resample_poly(x, int(rate_out) // g, int(rate_in) // g).astype(np.float32)


def peak_amplitude(signal):
    """max |signal| of a float array (n,) > 0 samples, as a float.

    Two reductions instead of ``abs()``: no temporary array the size of the song."""
    return float(max(signal.max(), -signal.min()))


def load_audio(path, sr=22050):
    """Load an audio file as float32 mono at ``sr`` Hz: WAV or AU with NumPy and SciPy,
    MP3, FLAC, OGG, Opus, M4A, AIFF ... with the ``[audio]`` extra (``data.decoders``).

    Parameters
    ----------
    path : str or Path
    sr : int
        Target sample rate; other rates are resampled exactly (resample_poly).

    Returns
    -------
    signal : ndarray float32, shape (n_samples,), nominally in [-1, 1]

    Raises
    ------
    AudioError
        Unreadable, truncated, empty or non-finite files, unknown formats.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file")
    if path.exists() and not stat.S_ISREG(path.stat().st_mode):
        # Opening a FIFO or a device blocks, or reads without end.
        raise AudioError(f"{path}: not a regular file (a FIFO, socket or device), skipped")
    if suffix == ".wav":
        samples, rate = read_wav(path, mono=True)
    elif suffix == ".au":
        samples, rate = read_au(path)
    elif suffix in COMPRESSED_EXTENSIONS:
        return _checked(decode_audio(path, sr, AudioError), path)
    else:
        raise AudioError(f"{path}: unsupported file type {suffix!r} (expected "
                         f"{', '.join(AUDIO_EXTENSIONS)})")
    if samples.shape[0] == 0:
        raise AudioError(f"{path}: contains no samples")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        # A rate of 1 Hz would also ask resampling for 22050 times the file's length.
        raise AudioError(f"{path}: header gives a sample rate of {rate} Hz, outside "
                         f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz (a corrupt file)")
    # Channels are averaged: GTZAN is mono, and a genre does not depend on panning.
    signal = samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1, dtype=np.float32)
    return resample(_checked(signal, path), rate, sr)


def _checked(signal, path):
    """The signal, once it is known to hold finite samples of audio's range."""
    if not np.isfinite(signal).all():
        raise AudioError(f"{path}: contains NaN or infinite samples")
    peak = peak_amplitude(signal) if len(signal) else 0.0
    if peak > MAX_AMPLITUDE:
        raise AudioError(f"{path}: samples reach {peak:.3g}, far outside the [-1, 1] of audio "
                         "(a corrupt float file)")
    return signal


def downsample(x, factor, method="mean"):
    """Reduce the sample rate by an integer factor.

    Parameters
    ----------
    x : ndarray float32, shape (n_samples,)
    factor : int >= 1
    method : {"mean", "poly"}
        ``"mean"`` averages each block of ``factor`` samples (the study's method,
        22050 / 40 = 551.25 Hz). A block mean is a weak low-pass filter: its
        frequency response has sidelobes, so energy above the new Nyquist
        frequency (275.6 Hz for factor 40) folds back into the band as aliases;
        cymbals and vocals leak into the bass range. ``"poly"`` uses
        ``scipy.signal.resample_poly``, whose long anti-aliasing FIR filter removes
        that energy first: a cleaner signal, at about 25x the cost.

    Returns
    -------
    y : ndarray float32, shape (n_samples // factor,)
        A trailing partial block (fewer than ``factor`` samples) is dropped.
    """
    factor = int(factor)
    if factor < 1:
        raise ValueError(f"downsampling factor must be >= 1, got {factor}")
    n = len(x) // factor
    if factor == 1:
        return np.asarray(x, dtype=np.float32)
    if method == "mean":
        return x[:n * factor].reshape(n, factor).mean(axis=1, dtype=np.float32)
    if method == "poly":
        from scipy.signal import resample_poly  # importing scipy.signal takes about 1 s
        return resample_poly(x, 1, factor)[:n].astype(np.float32)
    raise ValueError(f"unknown downsampling method {method!r} (expected 'mean' or 'poly')")


def n_windows(n_samples, window, hop=None, max_windows=None):
    """How many windows :func:`frame` cuts from a signal of ``n_samples``."""
    hop = window if hop is None else hop
    count = 0 if n_samples < window else 1 + (n_samples - window) // hop
    return count if max_windows is None else min(count, max_windows)


def frame(x, window=500, hop=None, max_windows=None):
    """Cut a signal into consecutive windows.

    Parameters
    ----------
    x : ndarray, shape (n_samples,)
    window : int
        Samples per window (500 in the study).
    hop : int or None
        Step between window starts; ``window`` (no overlap) when None.
    max_windows : int or None
        Keep at most this many, from the start (the study kept 25 per clip).

    Returns
    -------
    windows : ndarray, shape (n_windows, window), a copy
        Zero rows (with a warning) when the signal is shorter than one window.
    """
    hop = window if hop is None else int(hop)
    if window < 1 or hop < 1:
        raise ValueError(f"window and hop must be >= 1, got {window} and {hop}")
    count = n_windows(len(x), window, hop, max_windows)
    if count == 0:
        if len(x) < window:
            warnings.warn(f"signal of {len(x)} samples is shorter than one window of {window}",
                          stacklevel=2)
        return np.empty((0, window), dtype=x.dtype)
    views = np.lib.stride_tricks.sliding_window_view(x, window)[::hop]
    return np.array(views[:count])
