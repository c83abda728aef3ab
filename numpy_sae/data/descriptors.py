"""Engineered audio descriptors: the feature set the study set out to replace, for comparison.

From the full-rate audio of a clip (22050 Hz, not the downsampled signal the
network reads) a short-time Fourier transform (2048-sample Hann frames, hop
512) gives per frame: 13 MFCCs (a mel filterbank built here, then a DCT), the
spectral centroid, roll-off (85%), flux and flatness, the zero-crossing rate,
the RMS energy and a 12-bin chroma. Each 3 s segment of a clip is summarized
by the mean and standard deviation of every descriptor over its frames: 62
numbers per segment. :func:`build_featureset` does it for a GTZAN tree, on
both cores, through a cache like the clip cache.
"""

import functools
import warnings
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from scipy.fft import dct, rfft

from .audio import AudioError, load_audio
from .gtzan import (
    DataError,
    Preprocessing,
    cache_key,
    cached_build,
    dataset_arrays,
    dataset_fields,
    find_clips,
)
from .npzio import atomic_savez

N_FFT, HOP = 2048, 512
N_MELS, N_MFCC = 40, 13
SEGMENT_SECONDS = 3.0
ROLLOFF = 0.85
_EPS = 1e-10
DESCRIPTORS = (*(f"mfcc_{i}" for i in range(N_MFCC)), "centroid", "rolloff", "flux",
               "flatness", "zero_crossing_rate", "rms",
               *(f"chroma_{p}" for p in ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A",
                                         "A#", "B")))
FEATURE_NAMES = tuple(f"{d}_{stat}" for stat in ("mean", "std") for d in DESCRIPTORS)
N_FEATURES = len(FEATURE_NAMES)
CACHE_VERSION = 1


def hz_to_mel(f):
    """The mel scale (HTK): m = 2595 log10(1 + f / 700)."""
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    """Inverse of :func:`hz_to_mel`: f = 700 (10**(m / 2595) - 1)."""
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_band_edges(n_mels, sample_rate, fmin=0.0, fmax=None):
    """The n_mels + 2 frequencies (Hz) that bound the triangles, evenly spaced in mel."""
    fmax = sample_rate / 2 if fmax is None else fmax
    return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))


def mel_filterbank(n_mels, n_fft, sample_rate, fmin=0.0, fmax=None):
    """Triangular mel filters over the rfft bins.

    Returns
    -------
    ndarray (n_mels, n_fft // 2 + 1): filter i rises from edge i to 1 at edge i + 1
    and falls to 0 at edge i + 2 (edges from :func:`mel_band_edges`).
    """
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = mel_band_edges(n_mels, sample_rate, fmin, fmax)
    lower, center, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs - lower) / (center - lower)
    falling = (upper - freqs) / (upper - center)
    return np.maximum(0.0, np.minimum(rising, falling))


@functools.lru_cache(maxsize=4)
def _chroma_map(n_fft, sample_rate):
    """(n_bins, 12) one-hot pitch class of every rfft bin from 27.5 Hz (A0) up."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    mapping = np.zeros((len(freqs), 12), dtype=np.float32)
    audible = freqs >= 27.5
    pitch_class = np.round(12 * np.log2(freqs[audible] / 440.0) + 69).astype(int) % 12
    mapping[np.flatnonzero(audible), pitch_class] = 1.0
    return mapping


def frame_descriptors(signal, sample_rate=22050):
    """Every descriptor of every STFT frame of a signal.

    Parameters
    ----------
    signal : float (n_samples,), full-rate audio; shorter than one frame is zero-padded

    Returns
    -------
    ndarray (n_frames, len(DESCRIPTORS)), columns in the order of :data:`DESCRIPTORS`

    Notes
    -----
    With |X| the magnitude and P = |X|**2 the power of a frame's bins at frequencies f:
    centroid = sum f |X| / sum |X|; roll-off = the lowest f below which 85% of
    sum P lies; flux = || |X_t| / ||X_t|| - |X_{t-1}| / ||X_{t-1}|| ||;
    flatness = exp(mean log P) / mean P; MFCC = DCT-II(log(mel filterbank @ P));
    chroma = P summed per pitch class, divided by its total; zero-crossing rate
    = sign changes per sample; RMS = sqrt(mean x**2).
    """
    signal = np.asarray(signal, dtype=np.float32)
    if len(signal) < N_FFT:
        signal = np.pad(signal, (0, N_FFT - len(signal)))
    frames = np.lib.stride_tricks.sliding_window_view(signal, N_FFT)[::HOP]
    starts = np.arange(len(frames)) * HOP
    # float32 and scipy's FFT: a 30 s clip's 1288 frames take a third of the float64 time.
    magnitude = np.abs(rfft(frames * _hann(), axis=1))
    power = magnitude ** 2
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate).astype(np.float32)
    mfcc = dct(np.log(power @ _mel_filterbank_cached(sample_rate).T + _EPS), type=2,
               norm="ortho", axis=1)[:, :N_MFCC]
    total = magnitude.sum(axis=1)
    centroid = (magnitude @ freqs) / np.maximum(total, _EPS)
    cumulative = np.cumsum(power, axis=1)
    rolloff = freqs[np.argmax(cumulative >= ROLLOFF * cumulative[:, -1:], axis=1)]
    unit = magnitude / np.maximum(np.linalg.norm(magnitude, axis=1, keepdims=True), _EPS)
    flux = np.concatenate([[0.0], np.linalg.norm(np.diff(unit, axis=0), axis=1)])
    flatness = np.exp(np.mean(np.log(power + _EPS), axis=1)) / (np.mean(power, axis=1) + _EPS)
    # Per-frame sums of sign changes and of squares from running sums over the signal:
    # one pass over the samples instead of one per overlapping frame.
    changes = np.concatenate([[0], np.cumsum(np.signbit(signal[1:]) != np.signbit(signal[:-1]))])
    crossings = (changes[starts + N_FFT - 1] - changes[starts]) / (N_FFT - 1)
    energy = np.concatenate([[0.0], np.cumsum(signal.astype(np.float64) ** 2)])
    rms = np.sqrt(np.maximum(energy[starts + N_FFT] - energy[starts], 0.0) / N_FFT)
    chroma = power @ _chroma_map(N_FFT, sample_rate)
    chroma /= np.maximum(chroma.sum(axis=1, keepdims=True), _EPS)
    return np.column_stack([mfcc, centroid, rolloff, flux, flatness, crossings, rms,
                            chroma]).astype(np.float64)


@functools.lru_cache(maxsize=4)
def _mel_filterbank_cached(sample_rate):
    return mel_filterbank(N_MELS, N_FFT, sample_rate).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _hann():
    from scipy.signal import get_window  # importing scipy.signal takes about 1 s

    return get_window("hann", N_FFT).astype(np.float32)


def segment_features(signal, sample_rate=22050, segment_seconds=SEGMENT_SECONDS):
    """Mean and std of every descriptor per segment: (n_segments, N_FEATURES) float32.

    A clip gives one row per whole segment (10 for 30 s); a clip shorter than
    one segment gives one row over all its frames.
    """
    per_frame = frame_descriptors(signal, sample_rate)
    frames_per_segment = max(1, int(round(segment_seconds * sample_rate / HOP)))
    # A last segment at least half full counts (a 30 s clip has 9.98 segments of 3 s).
    n_segments = max(1, int(round(len(per_frame) / frames_per_segment)))
    rows = []
    for i in range(n_segments):
        end = (i + 1) * frames_per_segment if i < n_segments - 1 else len(per_frame)
        chunk = per_frame[i * frames_per_segment:end]
        rows.append(np.concatenate([chunk.mean(axis=0), chunk.std(axis=0)]))
    return np.array(rows, dtype=np.float32)


@dataclass
class FeatureSet:
    """Descriptor vectors of the segments of every clip: the ClipSet of the feature baseline.

    x : float32 (n_segments, N_FEATURES); song : int64 (n_segments,), the clip of each row
    labels : int64 (n_clips,); paths, genre_names, preprocessing, skipped: as for a ClipSet
    """

    x: np.ndarray
    song: np.ndarray
    labels: np.ndarray
    paths: list
    genre_names: list
    preprocessing: Preprocessing
    skipped: list = field(default_factory=list)

    def __len__(self):
        return len(self.labels)

    def check(self):
        """Raise ValueError unless the rows and their clips fit together (a cache is checked)."""
        x, song = np.asarray(self.x), np.asarray(self.song)
        if x.ndim != 2 or x.shape[1] != N_FEATURES or x.dtype != np.float32:
            raise ValueError(f"x must be float32 (n, {N_FEATURES}), got {x.dtype} {x.shape}")
        if (song.shape != (len(x),) or song.dtype.kind not in "iu"
                or (len(song) and (song.min() < 0 or song.max() >= len(self)))):
            raise ValueError("the rows' clips do not match the clips")
        if not np.isfinite(x).all():
            raise ValueError("descriptors hold NaN or inf")

    def windows(self, clips=None):
        """The segments of the chosen clips: x (n, N_FEATURES), y (n,), song (n,)."""
        rows = (np.arange(len(self.song)) if clips is None
                else np.flatnonzero(np.isin(self.song, np.asarray(clips))))
        return self.x[rows], self.labels[self.song[rows]], self.song[rows]


def _clip_features(path, sample_rate):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return segment_features(load_audio(path, sample_rate), sample_rate), None
    except AudioError as exc:
        return None, str(exc).removeprefix(f"{path}: ")
    except (OSError, MemoryError) as exc:
        return None, f"cannot read ({exc})"


def save_featureset(features, path):
    """Write a FeatureSet to ``path`` (.npz) atomically."""
    atomic_savez(path, {"x": features.x, "song": features.song, **dataset_arrays(features)})


def load_featureset(path):
    """Read a FeatureSet written by :func:`save_featureset` (no pickles)."""
    with np.load(path, allow_pickle=False) as data:
        return FeatureSet(x=data["x"], song=data["song"], **dataset_fields(data))


def build_featureset(root, genres, preprocessing=Preprocessing(), cache_dir=None,
                     use_cache=True, workers=None, log=print, min_genres=2):
    """Descriptor vectors of every clip of the chosen genres, on both cores, cached.

    Returns a :class:`FeatureSet`; unreadable clips are skipped and named.
    """
    genre_root, files, genre_names = find_clips(root, genres, min_genres)

    def assemble(kept, skipped):
        if not kept:
            return FeatureSet(np.zeros((0, N_FEATURES), np.float32), np.zeros(0, np.int64),
                              np.zeros(0, np.int64), [], genre_names, preprocessing, skipped)
        return FeatureSet(
            np.concatenate([segments for _, _, segments in kept]),
            np.concatenate([np.full(len(segments), i, dtype=np.int64)
                            for i, (_, _, segments) in enumerate(kept)]),
            np.array([label for _, label, _ in kept], dtype=np.int64),
            [rel for rel, _, _ in kept], genre_names, preprocessing, skipped)

    key = cache_key(genre_root, files, [*genre_names, f"descriptors-{CACHE_VERSION}"],
                     preprocessing)
    features = cached_build(genre_root, files,
                            partial(_clip_features, sample_rate=preprocessing.sample_rate),
                            assemble, save_featureset, load_featureset, "features", key,
                            cache_dir, use_cache, workers, log)
    empty = [g for i, g in enumerate(genre_names) if i not in set(features.labels.tolist())]
    if empty:
        raise DataError(f"genre(s) {', '.join(empty)} under {genre_root} have no usable audio file")
    return features
