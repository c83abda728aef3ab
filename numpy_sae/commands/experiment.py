"""What every command that trains shares: the run settings, the data, splits and builders.

:class:`RunSettings` holds every setting of a run (the CLI takes its defaults
from it); :func:`load_dataset` finds GTZAN or makes the synthetic set;
:func:`make_splits`, :func:`training_source`, :func:`new_audio_model` and
:func:`make_trainer` turn settings and data into what the Trainer needs. The
main job, the baselines and cross-validation are all built from these.
"""

import hashlib
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.audio import DOWNSAMPLING_METHODS
from ..data.descriptors import build_featureset
from ..data.features import SIGNAL_INPUTS
from ..data.parallel import progress_lines
from ..data.gtzan import (
    DEFAULT_GENRES,
    GENRES,
    UNLABELED,
    DataError,
    Preprocessing,
    build_clipset,
    build_unlabeled,
    default_cache_dir,
    resolve_root,
)
from ..data.segments import frames_per_segment
from ..data.splits import filtered_split, read_split_files, segment_split, song_split
from ..data.synth import generate_dataset
from ..nn.filterbanks import FRONT_INITS
from ..nn.model import CODE_ACTIVATIONS, FRONT_LEARNING, POOLINGS
from ..nn.optim import OPTIMIZERS, make_optimizer
from ..train import RandomCropSource, Trainer, WindowSource
from .models import DECODERS as DECODER_NAMES
from .models import FRONT_ENDS
from .models import MODELS as MODEL_NAMES
from .models import model_kind

SEARCH_PATHS = ("Data/genres_original", "data/gtzan")
SYNTH_FULL = {"clips_per_genre": 100, "duration": 30.0}
SYNTH_QUICK = {"clips_per_genre": 12, "duration": 10.0}
SPLITS = ("song", "segment", "filtered")
MAX_JOBS = 256  # --jobs: processes reading the clips
MAX_SEGMENT_FRAMES = 100_000  # Preprocessing's own bound on segment_frames

# The study's model and training settings, as --study reproduces them: the joint window
# model, Adam at 1e-4 for 200 epochs on the fixed grid of the first 25 windows per clip,
# gamma 0.9, no weight decay, no early stopping.
STUDY_SETTINGS = {"model": "joint", "lr": 1e-4, "epochs": 200, "batch_size": 512,
                  "gamma": 0.9, "crops": 0, "weight_decay": 0.0, "patience": None,
                  "input": "waveform", "optimizer": "adam", "code_dim": 64,
                  "code_activation": "tanh", "decoder": "mirror", "max_windows": 25}


class JobError(RuntimeError):
    """A command stopped for a reason the user should read (one line)."""


@dataclass
class RunSettings:
    """Every setting of a training run; stored in the model file for --resume."""

    data: str | None = None
    model: str = "joint"
    unlabeled: str | None = None  # a folder of audio without genres: reconstruction-only windows
    genres: list = field(default_factory=lambda: list(DEFAULT_GENRES))
    # Defaults chosen by 5-fold song-level cross-validation on real clips (README,
    # "Beyond the study"): lr 1e-3 and fresh random crops every epoch beat the study's
    # settings. With standardized inputs the reconstruction sums to ~450 per window at
    # first, so gamma 0.9 would drown the cross-entropy (~1.4). A linear code and a
    # linear decoder at gamma 0.03 for 200 epochs reconstruct unseen songs as well as
    # PCA of the same size (the mirrored tanh decoder at gamma 0.01 fell short of it),
    # at the same accuracy.
    epochs: int = 200
    batch_size: int = 512
    lr: float = 1e-3
    gamma: float = 0.03
    code_dim: int = 64
    code_activation: str = "identity"
    decoder: str = "linear"
    optimizer: str = "adam"
    weight_decay: float = 0.0
    patience: int | None = None
    split: str = "song"
    split_files: list | None = None
    fractions: list = field(default_factory=lambda: [0.7, 0.15, 0.15])
    input: str = "waveform"
    crops: int = 100
    method: str = "mean"
    factor: int = 40
    window: int = 500
    hop: int | None = None  # step between frames of a segment model (None: half a window)
    segment_seconds: float = 3.0  # a segment model classifies segments this long
    pooling: str = "meanstd"  # how a segment model summarizes its frames' codes
    # A learnable filterbank on the waveform frames of a segment model (README, "From the
    # raw waveform"): K filter pairs, their energy and its log, started at mel-spaced bins.
    gain_db: float = 0.0  # a segment model's training segments get a random gain in +-gain_db
    front_end: str = "none"
    front_init: str = "mel"
    front_filters: int = 128
    front_learning: str = "free"
    front_anchor: float = 0.0
    front_warmup: int = 0  # epochs the filterbank stays frozen before it learns
    front_lr_scale: float = 1.0  # its learning rate, as a factor of --lr, once it learns
    max_windows: int | None = None  # windows per song on a window model's grid (None: all)
    seed: int = 0
    out: str = "runs"
    name: str | None = None
    checkpoint_every: int = 10
    cache_dir: str | None = None
    use_cache: bool = True
    jobs: int | None = None  # processes that read (or generate) the clips; None: automatic
    quick: bool = False

    def preprocessing(self):
        """How clips become the model's inputs: windows, or segments of frames."""
        if not model_kind(self.model).segmented:
            return Preprocessing(factor=self.factor, method=self.method, window=self.window,
                                 max_windows=self.max_windows)
        hop = self.hop or max(1, self.window // 2)  # frames overlap by half unless told
        rate = 22050 / self.factor
        if hop > self.window:
            raise ValueError(f"--hop {hop} is longer than --window {self.window}: the samples "
                             "between two frames would belong to no frame")
        if self.segment_seconds * rate < self.window:
            raise ValueError(f"--segment-seconds {self.segment_seconds:g} is shorter than one "
                             f"frame (--window {self.window} samples at {rate:g} Hz = "
                             f"{self.window / rate:.3g} s): a segment needs at least 2 frames")
        frames = frames_per_segment(self.segment_seconds, rate, self.window, hop)
        if frames < 2:
            raise ValueError(f"--segment-seconds {self.segment_seconds:g} holds one frame of "
                             f"--window {self.window} with --hop {hop}: the pooling needs at "
                             "least 2 frames (a longer segment, or a shorter --hop)")
        if frames > MAX_SEGMENT_FRAMES:
            raise ValueError(f"--segment-seconds {self.segment_seconds:g} with --hop {hop} "
                             f"makes {frames:,} frames per segment; at most "
                             f"{MAX_SEGMENT_FRAMES:,} (a longer --hop or shorter segments)")
        return Preprocessing(factor=self.factor, method=self.method, window=self.window,
                             hop=hop, max_windows=None, segment_frames=frames)

    def check(self):
        """Raise ValueError naming the first setting of the wrong type or out of range: the
        settings also come from model files, which a user may have edited."""
        def whole(low, high=None, optional=False):
            return lambda v: ((optional and v is None) or (
                isinstance(v, int) and not isinstance(v, bool) and low <= v
                and (high is None or v <= high)))

        def number(low, high, open_low=False):
            return lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool)
                              and (low < v if open_low else low <= v) and v <= high)

        def text(choices=None, optional=False):
            return lambda v: ((optional and v is None) or (
                isinstance(v, str) and (choices is None or v in choices)))

        def strings(count=None, optional=False):
            return lambda v: ((optional and v is None) or (
                isinstance(v, list) and all(isinstance(i, str) for i in v)
                and (count is None or len(v) == count) and len(v) > 0))
        rules = {
            "data": text(optional=True), "model": text(MODEL_NAMES),
            "unlabeled": text(optional=True), "genres": strings(),
            "epochs": whole(1, 10_000_000), "batch_size": whole(1, 10_000_000),
            "lr": number(0, 1e3, open_low=True), "gamma": number(0, 1),
            "code_dim": whole(1, 65_536), "code_activation": text(CODE_ACTIVATIONS),
            "decoder": text(DECODER_NAMES), "optimizer": text(tuple(OPTIMIZERS)),
            "weight_decay": number(0, 1e6), "patience": whole(1, optional=True),
            "split": text(SPLITS), "split_files": strings(3, optional=True),
            "fractions": lambda v: isinstance(v, list) and len(v) == 3 and all(
                number(0, 1)(f) for f in v),
            "input": text(SIGNAL_INPUTS), "crops": whole(0, 100_000),
            "method": text(DOWNSAMPLING_METHODS), "factor": whole(1, 10_000),
            "window": whole(1, 100_000), "hop": whole(1, 100_000, optional=True),
            "segment_seconds": number(0, 600, open_low=True), "pooling": text(POOLINGS),
            "front_end": text(FRONT_ENDS), "front_init": text(FRONT_INITS),
            "front_filters": whole(1, 100_000), "front_learning": text(FRONT_LEARNING),
            "front_anchor": number(0, 1e9), "gain_db": number(0, 60),
            "front_warmup": whole(0, 10_000_000), "front_lr_scale": number(0, 1e3),
            "max_windows": whole(1, 1_000_000, optional=True), "seed": whole(0, 2 ** 63 - 1),
            "out": text(), "name": text(optional=True), "checkpoint_every": whole(1),
            "cache_dir": text(optional=True), "jobs": whole(1, MAX_JOBS, optional=True),
            "use_cache": lambda v: isinstance(v, bool), "quick": lambda v: isinstance(v, bool),
        }
        for name, valid in rules.items():
            if not valid(getattr(self, name)):
                raise ValueError(f"setting {name} is {getattr(self, name)!r}")
        if model_kind(self.model).segmented:
            self.preprocessing()  # the segment geometry, named in the user's options
        return self

    def uses_descriptors(self):
        """Whether the model is the feature baseline (reads descriptors, not windows)."""
        return model_kind(self.model).reads_descriptors

    def split_name(self):
        """How the run is split, as reports say it: "files", "song", "segment" or "filtered"."""
        return "files" if self.split_files else self.split


@dataclass
class Dataset:
    """Loaded clips and where they came from.

    clipset : data.gtzan.ClipSet, or data.descriptors.FeatureSet for the feature baseline
    root : Path of the data folder
    synthetic : True when the clips were generated by ``data.synth``
    unlabeled : data.gtzan.ClipSet of audio without genres (labels -1), or None
    """

    clipset: object
    root: Path
    synthetic: bool
    unlabeled: object = None

    def describe(self):
        return "SYNTHETIC audio" if self.synthetic else str(self.root)


# ----- data ------------------------------------------------------------------------------
def locate_data(settings, log):
    """A GTZAN root from --data, $GTZAN_DIR or the usual places; else the synthetic default.

    Returns (root, synthetic: bool).
    """
    if settings.data:
        root = Path(settings.data).expanduser()
        if not root.is_dir():
            raise DataError(f"data folder not found: {settings.data}"
                            + (" (it is a file)" if root.exists() else ""))
        return root, False
    if os.environ.get("GTZAN_DIR"):
        root = Path(os.environ["GTZAN_DIR"]).expanduser()
        if not root.is_dir():
            raise DataError(f"$GTZAN_DIR points to a missing folder: {root}")
        return root, False
    for candidate in SEARCH_PATHS:
        if Path(candidate).is_dir():
            return Path(candidate), False
    synth = SYNTH_QUICK if settings.quick else SYNTH_FULL
    genres = list(GENRES) if settings.genres == ["all"] else settings.genres
    cache = Path(settings.cache_dir) if settings.cache_dir else default_cache_dir()
    root = cache / (f"synthetic-{'-'.join(genres)}-{synth['clips_per_genre']}x"
                    f"{synth['duration']:g}s-seed{settings.seed}")
    log("=" * 78)
    log("SYNTHETIC DATA: no GTZAN folder was given or found (--data, $GTZAN_DIR,")
    log(f"./{SEARCH_PATHS[0]}, ./{SEARCH_PATHS[1]}). Everything below is measured on")
    log("generated audio, not real music: it shows the code works, not how well it")
    log("classifies real songs. Point --data at a GTZAN download for real results.")
    log("=" * 78)
    if not (root / "genres_original" / "SYNTHETIC.json").exists():
        log(f"generating {len(genres)} x {synth['clips_per_genre']} synthetic clips of "
            f"{synth['duration']:g} s into {root} (once; later runs reuse them) ...")
        began = time.perf_counter()
        generate_dataset(root, genres=genres, seed=settings.seed, workers=settings.jobs,
                         progress=progress_lines("generating", "clips", log), **synth)
        log(f"generated in {time.perf_counter() - began:.1f} s")
    return root, True


def load_dataset(settings, log):
    """Locate the data (or make the synthetic set) and load its clips as a :class:`Dataset`."""
    if settings.unlabeled and not Path(settings.unlabeled).expanduser().is_dir():
        raise DataError(f"folder of unlabeled audio not found: {settings.unlabeled}")
    if not model_kind(settings.model).reconstructs and settings.unlabeled:
        raise DataError(f"--unlabeled trains a reconstruction; --model {settings.model} has none")
    root, synthetic = locate_data(settings, log)
    began = time.perf_counter()
    build = build_featureset if settings.uses_descriptors() else build_clipset
    clipset = build(root, settings.genres, settings.preprocessing(),
                    cache_dir=settings.cache_dir, use_cache=settings.use_cache,
                    workers=settings.jobs, log=log)
    log(f"{len(clipset)} clips of {len(clipset.genre_names)} genres "
        f"({', '.join(clipset.genre_names)}) ready in {time.perf_counter() - began:.1f} s"
        + (" (engineered descriptors of 3 s segments)" if settings.uses_descriptors() else ""))
    unlabeled = None
    if settings.unlabeled:
        unlabeled = build_unlabeled(settings.unlabeled, settings.preprocessing(),
                                    cache_dir=settings.cache_dir, use_cache=settings.use_cache,
                                    workers=settings.jobs, log=log)
        unlabeled = _without_labeled_songs(unlabeled, settings.unlabeled, clipset, root, log)
        log(f"{len(unlabeled)} unlabeled clips from {settings.unlabeled}: they train the "
            "reconstruction only")
    return Dataset(clipset, root, synthetic, unlabeled)


def _signal_fingerprints(clipset):
    """One digest per clip of its decoded samples: equal for a copy, a hard link or a
    lossless conversion (WAV to AU, FLAC) of the same song, whatever its name."""
    return [hashlib.blake2b(clipset.signals[a:b].tobytes(), digest_size=16).digest()
            for a, b in zip(clipset.offsets[:-1], clipset.offsets[1:])]


def _without_labeled_songs(unlabeled, unlabeled_root, clipset, root, log):
    """The unlabeled clips minus any song of the labeled data (the same file, a file of the
    same name, or the same samples under any name: a copy, a hard link, a lossless
    conversion): validation and test songs must never train the encoder."""
    genre_root = resolve_root(root)
    labeled_files = {os.path.realpath(genre_root / p) for p in clipset.paths}
    labeled_names = {Path(p).stem.lower() for p in clipset.paths}
    labeled_samples = set(_signal_fingerprints(clipset))
    keep = [i for i, (p, samples) in enumerate(zip(unlabeled.paths,
                                                   _signal_fingerprints(unlabeled)))
            if os.path.realpath(Path(unlabeled_root).expanduser() / p) not in labeled_files
            and Path(p).stem.lower() not in labeled_names and samples not in labeled_samples]
    dropped = len(unlabeled) - len(keep)
    if dropped:
        log(f"left out {dropped} of the {len(unlabeled)} unlabeled files: they are songs of "
            "the labeled data (the same file or a copy of it), which would leak validation "
            "and test songs into the encoder")
        if not keep:
            raise DataError(f"every file under {unlabeled_root} is a song of the labeled data; "
                            "--unlabeled needs other audio")
    return unlabeled.subset(keep)


# ----- splits and training windows ---------------------------------------------------------
@dataclass
class Splits:
    """Network inputs of each subset: x (n, D), y (n,), song (n,) clip ids."""

    train: tuple
    validation: tuple
    test: tuple
    train_clips: np.ndarray | None  # clip indices, when the split is by song
    missing: list = field(default_factory=list)  # listed clips not found (--split filtered)


def make_splits(clipset, settings, rng, model):
    """Cut windows (as ``model``, an AudioModel, reads them) and split them as settings say."""
    if settings.split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {settings.split!r}")
    missing = []
    if settings.split_files:
        clips = read_split_files(settings.split_files, clipset.paths)
    elif settings.split == "filtered":
        try:
            clips, missing = filtered_split(clipset.paths, clipset.genre_names)
        except ValueError as exc:
            raise DataError(str(exc)) from None
        if missing:
            warnings.warn(f"{len(missing)} clip(s) of the fault-filtered split are missing or "
                          f"unreadable and left out: {', '.join(missing[:5])}"
                          + (" ..." if len(missing) > 5 else ""), stacklevel=2)
    elif settings.split == "segment":
        x, y, song = model.windows(clipset, table=model.frame_table(clipset))
        parts = segment_split(len(y), rng, settings.fractions)
        return Splits(*[(x[p], y[p], song[p]) for p in parts], train_clips=None)
    else:
        clips = song_split(clipset.labels, rng, settings.fractions)
    table = model.frame_table(clipset)  # every frame transformed once, shared by the subsets
    return Splits(*[model.windows(clipset, c, table) for c in clips], train_clips=clips[0],
                  missing=missing)


def training_source(settings, clipset, train_clips, x_train, y_train, transform, unlabeled=None):
    """Where training windows come from: fresh random crops of the training songs
    (``settings.crops`` per song per epoch) or the fixed grid ``x_train`` (n, D), ``y_train`` (n,).

    transform : callable turning raw windows into the network's inputs (an AudioModel's
        ``features``, or that followed by a frozen encoder); the fixed grid ``x_train``
        has had the features applied already.
    unlabeled : ClipSet of clips without genres, or None. Their windows join every
        epoch (as many per clip as a training song gives) with the label -1.
    """
    if settings.crops and hasattr(clipset, "signals"):  # a FeatureSet has segments, no signal
        if train_clips is None:
            raise JobError("random crops need a song-level split (--split song)")
        if unlabeled is not None:
            clipset = clipset.joined(unlabeled)
            train_clips = np.concatenate([train_clips, np.arange(len(clipset) - len(unlabeled),
                                                                 len(clipset))])
        # The grid's frame table serves the crops too (not unlabeled clips, outside it).
        table = getattr(x_train, "table", None) if unlabeled is None else None
        return RandomCropSource(clipset, train_clips, settings.crops, transform=transform,
                                gain_db=settings.gain_db if clipset.preprocessing.segment_frames
                                else 0.0, table=table)
    if unlabeled is not None:
        if unlabeled.preprocessing.segment_frames is not None:
            raise JobError("unlabeled audio joins a segment model's training as random "
                           "segments: use --crops N (N >= 1) with --unlabeled")
        x_extra = transform(unlabeled.windows()[0])
        x_train = np.concatenate([x_train, x_extra])
        y_train = np.concatenate([y_train, np.full(len(x_extra), UNLABELED, dtype=np.int64)])
    return WindowSource(x_train, y_train)


def new_audio_model(settings, clipset, seed, gamma=None):
    """The network of ``settings.model`` with its input contract; scaling not fitted yet.

    gamma : overrides ``settings.gamma`` (the baselines train gamma 1 too).
    """
    return model_kind(settings.model).audio_model(settings, clipset, seed, gamma)


def make_trainer(settings, network, source, validation, rng, log=None):
    """A Trainer with the optimizer, batch size and early stopping of ``settings``."""
    schedule = None
    if settings.front_end != "none" and (settings.front_warmup or settings.front_lr_scale != 1):
        def schedule(epoch, optimizer):
            # The filterbank waits frozen for --front-warmup epochs, then learns at
            # --front-lr-scale times --lr: the layers above first adapt to its start.
            optimizer.lr_scales["front."] = (0.0 if epoch < settings.front_warmup
                                             else settings.front_lr_scale)
    return Trainer(network, make_optimizer(settings.optimizer, settings.lr, settings.weight_decay,
                                           no_decay=getattr(network, "no_decay", ())),
                   source, validation=validation, batch_size=settings.batch_size, rng=rng,
                   patience=settings.patience, log=log, schedule=schedule)
