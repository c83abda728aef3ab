"""A network together with its whole input contract: how audio becomes the windows it reads.

An :class:`AudioModel` owns the network, the preprocessing (sample rate,
downsampling, window), the input kind (waveform or spectrum) and the genre
names. Everything that turns audio into network inputs goes through it:
``windows(clipset)`` for a dataset, ``file_windows(path)`` and
``predict_file(path)`` for one file; and it is saved and loaded as one piece,
so a model file can never be read with the wrong settings.
"""

import warnings

import numpy as np

from .data.audio import (
    MAX_SAMPLE_RATE,
    MIN_SAMPLE_RATE,
    AudioError,
    downsample,
    frame,
    load_audio,
    peak_amplitude,
    resample,
)
from .data.descriptors import SEGMENT_SECONDS, segment_features
from .data.features import INPUT_KINDS, feature_dim, make_features
from .data.gtzan import ClipSet, Preprocessing
from .data.segments import FrameTable, segment_grid
from .modelfile import ModelFileError, load_model_file, save_model_file


SILENCE = 1e-4  # a file whose samples never pass -80 dB of full scale holds no music


class Prediction:
    """The genre of one song, and how sure the model is along it.

    Attributes
    ----------
    source : str, the file (or the name given to predict_audio)
    genre : str, the verdict: the genre of highest mean probability
    probabilities : dict genre -> float, every genre's probability over the whole song
        (the mean of the timeline's rows), most probable first
    timeline : float32 (n_steps, n_genres), each window's or segment's probabilities
    times : float64 (n_steps,), where each step starts in the song, in seconds
    unit : "window" or "segment", what one step is
    """

    def __init__(self, source, genre_names, proba, timeline, seconds_per_step, unit):
        self.source, self.genre_names, self.unit = source, list(genre_names), unit
        self.proba, self.timeline = np.asarray(proba, dtype=np.float64), timeline
        order = np.argsort(-self.proba, kind="stable")
        self.genre = self.genre_names[order[0]]
        self.probabilities = {self.genre_names[i]: float(self.proba[i]) for i in order}
        self.seconds_per_step = float(seconds_per_step)
        self.times = np.arange(len(timeline)) * self.seconds_per_step

    def to_dict(self):
        """JSON-able: file, genre, probabilities, and the timeline by genre."""
        return {"file": self.source, "genre": self.genre, "probabilities": self.probabilities,
                "unit": self.unit, "steps": len(self.timeline),
                "seconds_per_step": self.seconds_per_step,
                "timeline": {name: [round(float(v), 4) for v in self.timeline[:, i]]
                             for i, name in enumerate(self.genre_names)}}

    def __repr__(self):
        ranked = ", ".join(f"{g} {p:.3f}" for g, p in list(self.probabilities.items())[:3])
        return f"Prediction({self.source!r}: {self.genre}; {ranked}; {len(self.timeline)} " \
               f"{self.unit}s)"


class AudioModel:
    """A network plus the settings of the audio it was trained on.

    Parameters
    ----------
    network : SoftmaxAutoencoderNetwork or SoftmaxClassifier
    preprocessing : data.gtzan.Preprocessing
    input_kind : "waveform" or "spectrum"
    genre_names : list of str, one per class of the network
    """

    def __init__(self, network, preprocessing, input_kind, genre_names):
        if input_kind not in INPUT_KINDS:
            raise ValueError(f"input kind must be one of {', '.join(INPUT_KINDS)}, "
                             f"got {input_kind!r}")
        width = feature_dim(input_kind, preprocessing.window)
        if len(genre_names) != network.n_classes or width != network.input_dim:
            raise ValueError(f"audio settings ({len(genre_names)} genres, {width} inputs) do "
                             f"not match the network ({network.n_classes} classes, "
                             f"{network.input_dim} inputs)")
        reads_segments = hasattr(network, "pool")
        if reads_segments != (preprocessing.segment_frames is not None):
            raise ValueError(f"a {type(network).__name__} cannot read "
                             + ("single windows" if reads_segments else "segments of frames")
                             + ": the preprocessing does not match the network")
        if reads_segments and preprocessing.segment_frames < 2:
            raise ValueError(f"segments of {preprocessing.segment_frames} frame: the pooling "
                             "needs at least 2")
        self.network = network
        self.preprocessing = preprocessing
        self.input_kind = input_kind
        self.genre_names = [str(name) for name in genre_names]

    @property
    def segmented(self):
        """Whether the network reads segments of frames (a segment model) or single windows."""
        return self.preprocessing.segment_frames is not None

    @property
    def unit(self):
        """What one row of predictions covers, as reports name it: "window", or "segment"
        (a segment model's 3 s of frames; the feature baseline's 3 s of descriptors)."""
        return "segment" if self.segmented or self.input_kind == "descriptors" else "window"

    def features(self, windows):
        """Network inputs from raw windows: (..., window) -> (..., network.input_dim).
        A segment model's frames are Hann-tapered before a spectrum is taken."""
        return make_features(windows, self.input_kind, taper=self.segmented)

    def windows(self, clipset, clips=None, table=None):
        """The fixed grid of a dataset's clips, as network inputs: windows, or for a segment
        model consecutive segments (lazy: frames are cut as they are read).

        table : a segment model's :meth:`frame_table` of ``clipset``, or None; its stored
            features are read instead of transforming the frames again (the Segments
            returned carry it as ``.table``, and training's random crops read it too)

        Returns
        -------
        x : float32 (n, input_dim), or Segments (n, T, input_dim)
        y : int64 (n,), song : int64 (n,)
        """
        if self.segmented:
            clips = np.arange(len(clipset)) if clips is None else clips
            return segment_grid(clipset, clips, self.features, table)
        x, y, song = clipset.windows(clips)
        return self.features(x), y, song

    def frame_table(self, clipset):
        """Every frame of ``clipset`` transformed once (training reads each frame every
        epoch), as a FrameTable; None where storing gains nothing: a window model, or a
        front end, which reads raw samples."""
        if not self.segmented or self.input_kind != "spectrum":
            return None
        return FrameTable(clipset, self.features)

    def file_signal(self, path):
        """One audio file, resampled and downsampled as the training data was: float32 (n,).

        Raises AudioError for unreadable files or files shorter than one window.
        """
        pre = self.preprocessing
        signal = downsample(load_audio(path, pre.sample_rate), pre.factor, pre.method)
        return self._checked_length(signal, path)

    def _checked_length(self, signal, path):
        pre = self.preprocessing
        if len(signal) < pre.min_samples:
            raise AudioError(f"{path}: too short ({len(signal)} samples after downsampling, "
                             f"one {'segment' if self.segmented else 'window'} needs "
                             f"{pre.min_samples})")
        return signal

    def file_windows(self, path):
        """Every window of one file (not only the grid's first max_windows), as inputs (n, D);
        for the feature baseline, the descriptors of every 3 s segment."""
        pre = self.preprocessing
        if self.input_kind == "descriptors":
            signal = load_audio(path, pre.sample_rate)
            # One rule for every model: a file shorter than what the model classifies is
            # refused (half a segment counts, as in the descriptors of a clip's last one).
            shortest = int(SEGMENT_SECONDS * pre.sample_rate / 2)
            if len(signal) < shortest:
                raise AudioError(f"{path}: too short ({len(signal)} samples; a descriptor "
                                 f"segment needs at least {shortest})")
            return segment_features(signal, pre.sample_rate)
        return self.signal_windows(self.file_signal(path), path)

    def signal_windows(self, signal, path="signal"):
        """The model's inputs of one file's signal (as :meth:`file_signal` returns it)."""
        pre = self.preprocessing
        if self.segmented:
            one_clip = ClipSet(signals=signal, offsets=np.array([0, len(signal)]),
                               labels=np.zeros(1, dtype=np.int64), paths=[str(path)],
                               genre_names=self.genre_names, preprocessing=pre)
            # Lazy: frames are cut and transformed chunk by chunk as the network reads
            # them, so a two-hour recording does not hold every frame's spectrum at once.
            segments, _, _ = segment_grid(one_clip, [0], self.features)
            return segments
        return self.features(frame(signal, pre.window, pre.hop))

    @property
    def seconds_per_window(self):
        """How much of a song one input row covers, in seconds."""
        pre = self.preprocessing
        if self.input_kind == "descriptors":
            return SEGMENT_SECONDS
        if self.segmented:
            return pre.min_samples / pre.rate
        return pre.step / pre.rate

    def predict_file(self, path):
        """The genre of one audio file, judged on the whole song.

        WAV and AU are read with NumPy and SciPy; MP3, FLAC, OGG, Opus, M4A, AIFF ... with
        the ``[audio]`` extra. Any sample rate is resampled, any number of channels
        averaged.

        Returns
        -------
        Prediction : the verdict, every genre's probability (the mean over the song's
            windows or segments) and their timeline

        Raises
        ------
        AudioError for unreadable files, files shorter than one window or segment, or
        a model that gives NaN or inf for them (no verdict).
        """
        if self.input_kind == "descriptors":
            return self._prediction(self.file_windows(path), path)
        return self._signal_prediction(self.file_signal(path), path)

    def predict_audio(self, y, sr, name="audio"):
        """The genre of audio already in memory (as ``librosa.load`` or ``soundfile.read``
        return it), judged on all of it.

        Parameters
        ----------
        y : float (n,) mono, or (n, channels) / (channels, n) with the shorter axis the
            channels; nominally in [-1, 1]
        sr : its sample rate in Hz (resampled to the model's)
        name : what messages call it

        Returns
        -------
        Prediction
        """
        y = np.asarray(y)
        if y.ndim == 2:  # channels are averaged, on whichever axis is the shorter
            y = y.mean(axis=int(np.argmin(y.shape)), dtype=np.float32)
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.number) or \
                np.issubdtype(y.dtype, np.complexfloating):
            raise AudioError(f"{name}: expected real samples of shape (n,) or (n, channels), "
                             f"got {y.dtype} {np.shape(y)}")
        if not (isinstance(sr, (int, np.integer)) or float(sr).is_integer()) or \
                not MIN_SAMPLE_RATE <= sr <= MAX_SAMPLE_RATE:
            raise AudioError(f"{name}: sample rate must be a whole number of Hz from "
                             f"{MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE}, got {sr!r}")
        y = y.astype(np.float32, copy=False)
        if len(y) == 0 or not np.isfinite(y).all():
            raise AudioError(f"{name}: holds no samples, or NaN or inf")
        pre = self.preprocessing
        signal = resample(y, int(sr), pre.sample_rate)
        if self.input_kind == "descriptors":
            shortest = int(SEGMENT_SECONDS * pre.sample_rate / 2)
            if len(signal) < shortest:
                raise AudioError(f"{name}: too short ({len(signal)} samples; a descriptor "
                                 f"segment needs at least {shortest})")
            return self._prediction(segment_features(signal, pre.sample_rate), name)
        return self._signal_prediction(self._checked_length(
            downsample(signal, pre.factor, pre.method), name), name)

    def _signal_prediction(self, signal, path):
        peak = peak_amplitude(signal)
        if peak < SILENCE:
            warnings.warn(f"{path} is silent or nearly (peak {peak:.1e}, below -80 dB): "
                          "its genre verdict means nothing")
        return self._prediction(self.signal_windows(signal, path), path)

    def _prediction(self, x, path):
        try:
            with self.network.finite_forward():
                window_proba = self.network.predict_proba(x)
        except FloatingPointError as exc:
            raise AudioError(f"{path}: the model's layer {exc} gives NaN or inf values for "
                             "it (its weights or scaling are damaged or overflow); no "
                             "verdict") from None
        if not np.isfinite(window_proba).all():
            raise AudioError(f"{path}: the model gives NaN or inf probabilities for it (its "
                             "weights or scaling are damaged); no verdict")
        return Prediction(str(path), self.genre_names,
                          window_proba.mean(axis=0, dtype=np.float64), window_proba,
                          self.seconds_per_window, self.unit)

    # ----- files ----------------------------------------------------------------------
    def meta(self):
        """The audio settings as they are stored in a model file's metadata."""
        return {"genre_names": self.genre_names, "preprocessing": self.preprocessing.to_dict(),
                "input": self.input_kind}

    def save(self, path, meta=None, trainer_state=None):
        """Write the network and its audio settings (and ``meta``) to a model file."""
        save_model_file(path, self.network, {**(meta or {}), **self.meta()}, trainer_state)

    @classmethod
    def load(cls, path):
        """Read a model file that can classify audio.

        Returns
        -------
        model : AudioModel
        meta : dict, everything stored with it
        trainer_state : dict or None

        Raises
        ------
        ModelFileError when the file is damaged or lacks usable audio settings
        (e.g. written by ``SoftmaxAutoencoder.save`` without them).
        """
        network, meta, trainer_state = load_model_file(path)
        try:
            pre = Preprocessing(**meta["preprocessing"])
            names = meta["genre_names"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"genre_names is {names!r}, not a list of names")
            if len(set(names)) != len(names):
                # Scores would go to the wrong genre's column without a word.
                raise ValueError(f"genre_names repeats a name: {names}")
            model = cls(network, pre, meta["input"], names)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path}: has no usable audio settings ({exc}); models "
                                 "written by numpy-sae train have them") from None
        return model, meta, trainer_state
