"""Segments of frames, cut from the clips' signals only when a batch asks for them.

A segment model reads T frames of ``window`` samples, ``hop`` apart (63 frames
of 93 ms at 22050 Hz: 3 s). All frames of a dataset at full rate would take
gigabytes (a full GTZAN: 1.3 million frames), so :class:`Segments` keeps only
where each segment starts; ``segments[idx]`` gathers the frames of those
segments from a strided view of the signals and applies the model's features.
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

    def __init__(self, signals, starts, window, hop, n_frames, transform, gains=None):
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

    def __len__(self):
        return self.shape[0]

    @property
    def ndim(self):
        return 3

    def __getitem__(self, idx):
        if isinstance(idx, (int, np.integer)):
            return self[np.array([idx])][0]
        positions = self.starts[idx][:, None] + self._frame_offsets
        frames = self._frames[positions]
        if self.gains is not None:
            frames = frames * self.gains[idx][:, None, None]
        return self.transform(frames)


def segment_grid(clipset, clips, transform):
    """Consecutive, non-overlapping segments covering each chosen clip (evaluation).

    Parameters
    ----------
    clipset : ClipSet whose preprocessing gives window, hop and segment_frames
    clips : int array of clip indices
    transform : as for :class:`Segments`

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
    return (Segments(clipset.signals, starts, pre.window, pre.step,
                     pre.segment_frames, transform), clipset.labels[song], song)
