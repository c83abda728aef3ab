"""Segments of frames, cut from the clips' signals only when a batch asks for them.

A segment model reads T frames of ``window`` samples, ``hop`` apart (63 frames
of 93 ms at 22050 Hz: 3 s). All frames of a dataset at full rate would take
gigabytes (a full GTZAN: 1.3 million frames), so :class:`Segments` keeps only
where each segment starts; ``segments[idx]`` gathers the frames of those
segments from a strided view of the signals and applies the model's features.

Training reads the same frames every epoch, so for a spectrum model a
:class:`FrameTable` transforms every frame of the clips once, on the hop grid,
and keeps the log spectra in float16 (half of float32's memory: 1.3 GB for
1,000 clips of 30 s; the rounding, at most 0.004 on a log magnitude, is far
below a bin's spread). Segments that start on that grid then gather rows of the
table instead of transforming frames again.
"""

import numpy as np


def frames_per_segment(seconds, rate, window, hop):
    """How many frames of ``window`` samples, ``hop`` apart, fit in ``seconds`` at ``rate`` Hz
    (at least one)."""
    return max(1, int((seconds * rate - window) // hop) + 1)


class Segments:
    """Segments of frames, read lazily: ``segments[idx]`` -> float32 (len(idx), T, D).

    Parameters
    ----------
    signals : float32 (total_samples,), clip signals end to end (ClipSet.signals)
    starts : int64 (N,), where each segment's first frame starts in ``signals``
    window, hop, n_frames : frame length, step between frames, frames per segment T
    transform : callable (..., window) -> (..., D), the model's features of each frame
    gains : float (N,) or None, each segment's samples are multiplied by its gain before
        the features (augmentation: the same music, louder or softer)

    Notes
    -----
    Anything that reads segments in chunks can take this object where it would take
    an array of shape (N, T, D): it has ``shape``, ``len`` and indexing by an int,
    a slice or an index array. Nothing reads all of it at once.
    """

    def __init__(self, signals, starts, window, hop, n_frames, transform, gains=None,
                 table=None):
        self.signals = signals
        self.gains = None if gains is None else np.asarray(gains, dtype=np.float32)
        self.starts = np.asarray(starts, dtype=np.int64)
        self.window, self.hop, self.n_frames = int(window), int(hop), int(n_frames)
        self.transform = transform
        feature_dim = transform(np.zeros((1, 1, self.window), dtype=np.float32)).shape[-1]
        self.shape = (len(self.starts), self.n_frames, feature_dim)
        last = self.starts.max(initial=0) + (self.n_frames - 1) * self.hop + self.window
        if len(self.starts) and (self.starts.min() < 0 or last > len(signals)):
            raise ValueError("a segment reaches outside the signals")
        self._frame_offsets = np.arange(self.n_frames, dtype=np.int64) * self.hop
        # Every frame position of the signals as a read-only view: gathering rows of it
        # copies each frame's samples once, with no (N, T, window) index array.
        self._frames = np.lib.stride_tricks.sliding_window_view(signals, self.window)
        # With a table (and no gains) a segment is T consecutive rows of stored features.
        self.table = table if gains is None else None
        if self.table is not None:
            self._rows = self.table.rows(self.starts)
            self._row_offsets = np.arange(self.n_frames, dtype=np.int64)

    def __len__(self):
        return self.shape[0]

    @property
    def ndim(self):
        return 3

    def __getitem__(self, idx):
        if isinstance(idx, (int, np.integer)):
            return self[np.array([idx])][0]
        if self.table is not None:
            rows = self._rows[idx][:, None] + self._row_offsets
            return self.table.features[rows].astype(np.float32)
        positions = self.starts[idx][:, None] + self._frame_offsets
        frames = self._frames[positions]
        if self.gains is not None:
            frames = frames * self.gains[idx][:, None, None]
        return self.transform(frames)


class FrameTable:
    """The features of every frame of a clip set, computed once.

    Frame k of clip c starts at sample ``offsets[c] + k * hop``; its features are row
    ``first_row[c] + k`` of ``features``.

    Parameters
    ----------
    clipset : ClipSet whose preprocessing gives window and hop
    transform : callable (n, window) -> (n, D), the model's features of each frame
    dtype : how the features are stored (float16: half the memory of float32)
    chunk : frames transformed at a time (bounds the temporary FFT arrays)

    Attributes
    ----------
    features : (total_frames, D) of ``dtype``
    first_row : int64 (n_clips + 1,)
    """

    def __init__(self, clipset, transform, dtype=np.float16, chunk=4096):
        pre = clipset.preprocessing
        self.offsets, self.hop = clipset.offsets, pre.step
        lengths = np.diff(clipset.offsets)
        counts = np.where(lengths >= pre.window, (lengths - pre.window) // self.hop + 1, 0)
        self.first_row = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        clip_of_row = np.repeat(np.arange(len(counts)), counts)
        positions = (clipset.offsets[clip_of_row]
                     + (np.arange(len(clip_of_row)) - self.first_row[clip_of_row]) * self.hop)
        frames = np.lib.stride_tricks.sliding_window_view(clipset.signals, pre.window)
        width = transform(np.zeros((1, pre.window), dtype=np.float32)).shape[-1]
        self.features = np.empty((len(positions), width), dtype=dtype)
        for start in range(0, len(positions), chunk):
            rows = slice(start, start + chunk)
            self.features[rows] = transform(frames[positions[rows]])

    @property
    def nbytes(self):
        return self.features.nbytes

    def rows(self, starts):
        """The table row of the frame starting at each sample position: int64 (n,).
        Raises ValueError for a position off its clip's hop grid."""
        starts = np.asarray(starts, dtype=np.int64)
        clip = np.searchsorted(self.offsets, starts, side="right") - 1
        within = starts - self.offsets[clip]
        if len(starts) and (within % self.hop).any():
            raise ValueError("a segment starts between two frames of the table's hop grid")
        return self.first_row[clip] + within // self.hop


def segment_grid(clipset, clips, transform, table=None):
    """Consecutive, non-overlapping segments covering each chosen clip (evaluation).

    Parameters
    ----------
    clipset : ClipSet whose preprocessing gives window, hop and segment_frames
    clips : int array of clip indices
    transform : as for :class:`Segments`
    table : FrameTable of ``clipset`` or None; used when a segment's length is a whole
        number of hops (the default geometry: 63 frames of 2048, hop 1024, 64 hops),
        so every segment starts on its grid

    Returns
    -------
    segments : Segments (n, T, D)
    y : int64 (n,), the genre of each segment
    song : int64 (n,), the clip index of each segment
    """
    pre = clipset.preprocessing
    length = pre.min_samples
    clips = np.asarray(clips, dtype=np.int64)
    sizes = clipset.offsets[clips + 1] - clipset.offsets[clips]
    counts = np.where(sizes >= length, (sizes - length) // length + 1, 0)
    song = np.repeat(clips, counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    starts = clipset.offsets[song] + within * length
    if table is not None and length % pre.step:
        table = None
    return (Segments(clipset.signals, starts, pre.window, pre.step,
                     pre.segment_frames, transform, table=table), clipset.labels[song], song)
