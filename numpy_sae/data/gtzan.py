"""From a folder of GTZAN-style music to arrays: discovery, loading, windows and a cache.

A dataset is kept as downsampled *signals* (one per clip, about 16,500 samples
for 30 s at 551 Hz), not as windows: the fixed grid of windows the study used
is cut from them on demand, and so are random crops for augmentation. A clip
that cannot be read is skipped with a warning naming it and the reason; the
skipped files are listed in ``ClipSet.skipped``.
"""

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from .audio import (
    AUDIO_EXTENSIONS,
    DOWNSAMPLING_METHODS,
    MAX_SAMPLE_RATE,
    AudioError,
    downsample,
    frame,
    load_audio,
    n_windows,
)
from .decoders import AUDIO_EXTRA, needs_extra
from .npzio import atomic_savez, check_archive
from .parallel import map_in_workers, progress_lines

GENRES = ("blues", "classical", "country", "disco", "hiphop",
          "jazz", "metal", "pop", "reggae", "rock")  # GTZAN's ten
DEFAULT_GENRES = ("classical", "country", "metal", "pop")
CACHE_VERSION = 1
UNLABELED = -1  # the label of a clip without a genre (numpy_sae.nn.model uses the same value)


class DataError(ValueError):
    """A dataset problem the user must fix (missing folder, unknown genre, no usable file)."""


def _check_int(name, value, upper):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= upper:
        raise ValueError(f"{name} must be an integer from 1 to {upper}, got {value!r}")


@dataclass(frozen=True)
class Preprocessing:
    """How clips become windows. Part of the cache key and of every model file.

    sample_rate : rate every file is brought to before downsampling (Hz)
    factor : integer downsampling factor (40: 22050 Hz -> 551.25 Hz)
    method : "mean" (the study) or "poly" (anti-aliased)
    window : samples per window
    hop : step between windows of the fixed grid (None: = window)
    max_windows : windows per clip on the fixed grid (None: all)
    segment_frames : for a segment model, frames (windows, ``hop`` apart) per segment;
        None for models that read one window at a time
    """

    sample_rate: int = 22050
    factor: int = 40
    method: str = "mean"
    window: int = 500
    hop: int | None = None
    max_windows: int | None = 25
    segment_frames: int | None = None

    def __post_init__(self):
        # Bounds, not only signs: these settings also come from model files, which must
        # not be able to ask for absurd allocations.
        for name, upper in (("sample_rate", MAX_SAMPLE_RATE), ("factor", 10_000),
                            ("window", 100_000)):
            _check_int(name, getattr(self, name), upper)
        if self.hop is not None:
            _check_int("hop", self.hop, 100_000)
        if self.max_windows is not None:
            _check_int("max_windows", self.max_windows, 1_000_000)
        if self.segment_frames is not None:
            _check_int("segment_frames", self.segment_frames, 100_000)
        if self.method not in DOWNSAMPLING_METHODS:
            raise ValueError(f"method must be one of {', '.join(DOWNSAMPLING_METHODS)}, "
                             f"got {self.method!r}")

    def to_dict(self):
        return dict(self.__dict__)

    @property
    def step(self):
        """Samples between the starts of consecutive windows (or frames)."""
        return self.hop or self.window

    @property
    def min_samples(self):
        """The shortest usable signal: one window, or one segment of frames."""
        if self.segment_frames is None:
            return self.window
        return (self.segment_frames - 1) * self.step + self.window

    @property
    def rate(self):
        """Sample rate after downsampling (Hz)."""
        return self.sample_rate / self.factor


@dataclass
class ClipSet:
    """Downsampled clips and their labels.

    signals : float32 (total_samples,), every clip's downsampled signal, end to end
    offsets : int64 (n_clips + 1,), clip i is ``signals[offsets[i]:offsets[i + 1]]``
    labels : int64 (n_clips,), index into ``genre_names``
    paths : list of str, each clip's path relative to the genre root
    genre_names : list of str
    preprocessing : Preprocessing
    skipped : list of (path, reason) for files that could not be used
    """

    signals: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    paths: list
    genre_names: list
    preprocessing: Preprocessing
    skipped: list = field(default_factory=list)

    def __len__(self):
        return len(self.labels)

    def check(self):
        """Raise ValueError unless signals and offsets fit together (a cache is checked)."""
        signals, offsets = np.asarray(self.signals), np.asarray(self.offsets)
        if signals.ndim != 1 or signals.dtype != np.float32:
            raise ValueError(f"signals must be float32 (n,), got {signals.dtype} {signals.shape}")
        if (offsets.ndim != 1 or offsets.dtype.kind not in "iu" or len(offsets) != len(self) + 1
                or offsets[0] != 0 or offsets[-1] != len(signals) or np.any(np.diff(offsets) < 0)):
            raise ValueError("offsets do not cut the signals into the clips")
        if not np.isfinite(signals).all():
            raise ValueError("signals hold NaN or inf")

    def signal(self, i):
        """Downsampled signal of clip i, float32 (n_samples_i,)."""
        return self.signals[self.offsets[i]:self.offsets[i + 1]]

    def joined(self, other):
        """This set with ``other``'s clips appended (same preprocessing); indices of self
        stay valid. Used to add unlabeled clips (label -1) to a training set."""
        if other.preprocessing != self.preprocessing:
            raise ValueError("cannot join clip sets with different preprocessing")
        return ClipSet(signals=np.concatenate([self.signals, other.signals]),
                       offsets=np.concatenate([self.offsets, other.offsets[1:] + len(self.signals)]),
                       labels=np.concatenate([self.labels, other.labels]),
                       paths=self.paths + other.paths, genre_names=self.genre_names,
                       preprocessing=self.preprocessing, skipped=self.skipped + other.skipped)

    def subset(self, clips):
        """A ClipSet of only the chosen clips (int array of indices), in that order."""
        clips = np.asarray(clips, dtype=np.int64)
        lengths = self.offsets[clips + 1] - self.offsets[clips]
        return ClipSet(signals=(np.concatenate([self.signal(i) for i in clips]) if len(clips)
                                else np.zeros(0, np.float32)),
                       offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                       labels=self.labels[clips], paths=[self.paths[i] for i in clips],
                       genre_names=self.genre_names, preprocessing=self.preprocessing,
                       skipped=list(self.skipped))

    def windows(self, clips=None):
        """The fixed grid of windows of the chosen clips.

        Parameters
        ----------
        clips : int array of clip indices, or None for all

        Returns
        -------
        X : float32 (n_windows, window)
        y : int64 (n_windows,), genre of each window
        song : int64 (n_windows,), clip index of each window
        """
        clips = np.arange(len(self)) if clips is None else np.asarray(clips)
        p = self.preprocessing
        counts = np.array([n_windows(self.offsets[i + 1] - self.offsets[i], p.window, p.hop,
                                     p.max_windows) for i in clips], dtype=np.int64)
        X = np.empty((counts.sum(), p.window), dtype=np.float32)
        row = 0
        for i, count in zip(clips, counts):
            if count:
                X[row:row + count] = frame(self.signal(i), p.window, p.hop, count)
                row += count
        song = np.repeat(clips, counts).astype(np.int64)
        return X, self.labels[song], song


# ----- discovery ---------------------------------------------------------------------
def resolve_root(root):
    """The folder whose subfolders are genres, from any of the layouts users have.

    Accepts the Kaggle tree (``Data/genres_original/<genre>``; the root may be the
    parent of ``Data``, ``Data`` or ``genres_original``), the Marsyas tree
    (``genres/<genre>``) or any ``<root>/<genre>/<audio files>``.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"data folder not found: {root}")
    for candidate in (root / "Data" / "genres_original", root / "genres_original",
                      root / "genres"):
        if candidate.is_dir():
            return candidate
    return root


def _is_audio(path):
    # Hidden files include macOS AppleDouble "._name.wav" companions, which are not audio.
    # Decided by name, not by is_file(): a dangling link or a link loop is then tried,
    # fails, and is named as skipped instead of vanishing without a word.
    return (not path.name.startswith(".") and path.suffix.lower() in AUDIO_EXTENSIONS
            and not path.is_dir())


def genres_present(root):
    """The genre folders under ``root`` that hold audio, sorted."""
    genre_root = resolve_root(root)
    return sorted(d.name for d in genre_root.iterdir()
                  if d.is_dir() and not d.name.startswith(".") and any(map(_is_audio, d.iterdir())))


def find_clips(root, genres=DEFAULT_GENRES, min_genres=2):
    """List the audio files of the chosen genres.

    Parameters
    ----------
    root : str or Path, any layout :func:`resolve_root` accepts
    genres : sequence of names, or "all" for every genre folder present

    Returns
    -------
    genre_root : Path
    files : list of (Path, genre_index), sorted by genre then name
    genre_names : list of str
    """
    genre_root = resolve_root(root)
    present = genres_present(genre_root)
    if genres == "all" or list(genres) == ["all"]:
        genre_names = present
        if not genre_names:
            raise DataError(f"no genre folders with audio files under {genre_root} "
                            f"({', '.join(AUDIO_EXTENSIONS)})")
    else:
        genre_names = list(dict.fromkeys(genres))
        missing = [g for g in genre_names if g not in present]
        if missing:
            raise DataError(f"genre(s) {', '.join(missing)} not found under {genre_root} "
                            f"(found: {', '.join(present) or 'no genre folders with audio'})")
    if len(genre_names) < min_genres:
        raise DataError(f"need at least two genres to classify, got {genre_names}")
    files = [(path, label) for label, genre in enumerate(genre_names)
             for path in one_file_per_song(sorted(filter(_is_audio,
                                                         (genre_root / genre).iterdir())))]
    return genre_root, readable_with_installed_decoders(files, genre_root), genre_names


def readable_with_installed_decoders(files, root):
    """``files`` as they are, after a check that some can be read: when every file needs
    the ``[audio]`` extra and it is missing, DataError names the extra; when some do, one
    warning counts them (each is then skipped and named with its reason)."""
    blocked = [path for path, _ in files if needs_extra(path)]
    if blocked and len(blocked) == len(files):
        raise DataError(f"the {len(files)} audio file(s) under {root} are "
                        f"{', '.join(sorted({p.suffix.lower() for p in blocked}))}: "
                        f"{needs_extra(blocked[0])}")
    if blocked:
        warnings.warn(f"{len(blocked)} of the {len(files)} files under {root} need the "
                      f"[audio] extra ({AUDIO_EXTRA}) and are skipped", stacklevel=3)
    return files


def one_file_per_song(paths):
    """Keep one file per song: ``blues.00003.au`` beside ``blues.00003.wav`` is the same
    clip twice (Marsyas and Kaggle copies), and two copies could land on both sides of a
    split. A song is its folder and its name without the extension; the .wav copy is
    kept (else the first name), and every dropped copy is named in a warning."""
    by_song = {}
    for path in paths:
        by_song.setdefault((path.parent, path.stem.lower()), []).append(path)
    kept = []
    for copies in by_song.values():
        keep = next((p for p in copies if p.suffix.lower() == ".wav"), copies[0])
        kept.append(keep)
        for dropped in copies:
            if dropped is not keep:
                warnings.warn(f"{dropped} is another copy of {keep.name} (same song); using "
                              f"{keep.name} only", stacklevel=3)
    return sorted(kept)


# ----- building ----------------------------------------------------------------------
def _load_clip(path, preprocessing):
    """Worker: one file -> (downsampled float32 signal, None) or (None, reason)."""
    p = preprocessing
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            signal = downsample(load_audio(path, p.sample_rate), p.factor, p.method)
    except AudioError as exc:
        return None, str(exc).removeprefix(f"{path}: ")
    except (OSError, MemoryError) as exc:
        return None, f"cannot read ({exc})"
    if len(signal) < p.min_samples:
        return None, (f"too short: {len(signal)} samples after downsampling, "
                      f"fewer than one {'segment' if p.segment_frames else 'window'} of "
                      f"{p.min_samples}")
    return signal, None


def cache_key(genre_root, files, genre_names, preprocessing):
    from .. import __version__  # a new release never reads an older release's cache
    h = hashlib.sha256()
    h.update(json.dumps({"version": CACHE_VERSION, "package": __version__,
                         "root": str(genre_root.resolve()),
                         "genres": genre_names, "pre": preprocessing.to_dict()}).encode())
    for path, label in files:
        try:
            st = path.stat()
        except OSError:  # a dangling link or a loop: its own entry is what can be seen
            st = path.lstat()
        # File names are bytes to the filesystem: os.fsencode takes any name back to them,
        # where str.encode() fails on names that are not valid UTF-8.
        h.update(os.fsencode(path.relative_to(genre_root)))
        h.update(f"|{label}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def dataset_arrays(dataset):
    """The arrays every cached dataset (ClipSet, FeatureSet) stores besides its own data."""
    return {"labels": dataset.labels, "paths": np.array(dataset.paths, dtype=str),
            "genre_names": np.array(dataset.genre_names, dtype=str),
            "skipped": np.array(dataset.skipped, dtype=str).reshape(-1, 2),
            "preprocessing": np.array(json.dumps(dataset.preprocessing.to_dict()))}


def dataset_fields(data):
    """The constructor arguments :func:`dataset_arrays` stored, read back from an .npz."""
    return {"labels": data["labels"], "paths": data["paths"].tolist(),
            "genre_names": data["genre_names"].tolist(),
            "skipped": [tuple(r) for r in data["skipped"].tolist()],
            "preprocessing": Preprocessing(**json.loads(str(data["preprocessing"])))}


def save_clipset(clipset, path):
    """Write a ClipSet to ``path`` (.npz) atomically (see :mod:`numpy_sae.data.npzio`)."""
    atomic_savez(path, {"signals": clipset.signals, "offsets": clipset.offsets,
                        **dataset_arrays(clipset)})


def load_clipset(path):
    """Read a ClipSet written by :func:`save_clipset` (no pickles)."""
    with np.load(path, allow_pickle=False) as data:
        return ClipSet(signals=data["signals"], offsets=data["offsets"], **dataset_fields(data))


def default_cache_dir():
    """``$NUMPY_SAE_CACHE``, else ``$XDG_CACHE_HOME/numpy_sae``, else ``~/.cache/numpy_sae``."""
    if os.environ.get("NUMPY_SAE_CACHE"):
        return Path(os.environ["NUMPY_SAE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "numpy_sae"


def build_clipset(root, genres=DEFAULT_GENRES, preprocessing=Preprocessing(), cache_dir=None,
                  use_cache=True, workers=None, log=print, min_genres=2):
    """Load every clip of the chosen genres, downsampled, with a cache.

    Parameters
    ----------
    root : str or Path, a GTZAN tree in any layout :func:`resolve_root` accepts
    genres : sequence of names or "all"
    preprocessing : Preprocessing
    cache_dir : folder for the ``.npz`` cache (default :func:`default_cache_dir`)
    use_cache : False rebuilds and writes nothing
    workers : processes to load with (default: both cores when there are 64+ files)
    log : callable taking one line of progress text

    Returns
    -------
    ClipSet

    Raises
    ------
    DataError
        Missing folder, unknown genre, or a selected genre without one usable file.
    """
    genre_root, files, genre_names = find_clips(root, genres, min_genres)
    clipset = _build(genre_root, files, genre_names, preprocessing, cache_dir, use_cache, workers,
                     log)
    empty = [g for i, g in enumerate(genre_names) if i not in set(clipset.labels.tolist())]
    if empty:
        raise DataError(f"genre(s) {', '.join(empty)} under {genre_root} have no usable audio file")
    return clipset


def find_audio(root):
    """Every audio file under ``root``, in any layout and at any depth, sorted by path."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError(f"folder of unlabeled audio not found: {root}")
    found, seen = [], set()
    # Linked folders are followed (a music library is often links), each real folder once,
    # so a link back up the tree cannot loop forever.
    for folder, subfolders, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders.clear()
            continue
        seen.add(real)
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        found += [Path(folder) / name for name in names if _is_audio(Path(folder) / name)]
    return sorted(found)


def build_unlabeled(root, preprocessing=Preprocessing(), cache_dir=None, use_cache=True,
                    workers=None, log=print):
    """Load every audio file under ``root`` as clips without a genre (labels -1).

    Returns a ClipSet with ``genre_names`` empty; its clips train the reconstruction only.
    """
    files = [(path, UNLABELED) for path in find_audio(root)]
    if not files:
        raise DataError(f"no audio files under {root} ({', '.join(AUDIO_EXTENSIONS)})")
    files = readable_with_installed_decoders(files, root)
    clipset = _build(Path(root).expanduser(), files, [], preprocessing, cache_dir, use_cache,
                     workers, log)
    if len(clipset) == 0:
        raise DataError(f"none of the {len(files)} audio files under {root} could be used")
    return clipset


def _build(root, files, genre_names, preprocessing, cache_dir, use_cache, workers, log):
    """Load (path, label) files below ``root`` into a ClipSet, through the cache."""
    def assemble(kept, skipped):
        lengths = np.array([len(signal) for _, _, signal in kept], dtype=np.int64)
        return ClipSet(
            signals=(np.concatenate([signal for _, _, signal in kept]) if kept
                     else np.zeros(0, np.float32)),
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            labels=np.array([label for _, label, _ in kept], dtype=np.int64),
            paths=[rel for rel, _, _ in kept], genre_names=genre_names,
            preprocessing=preprocessing, skipped=skipped)
    return cached_build(root, files, partial(_load_clip, preprocessing=preprocessing), assemble,
                        save_clipset, load_clipset, "clips",
                        cache_key(root, files, genre_names, preprocessing),
                        cache_dir, use_cache, workers, log, parallel_from=64)


def check_cached(dataset, expected, root, files):
    """Raise ValueError unless a cached dataset is what this build would make: the same
    kind, genres and preprocessing, every file either kept (with its own label) or
    skipped, and arrays of consistent shapes (``dataset.check()``)."""
    if type(dataset) is not type(expected):
        raise ValueError(f"holds a {type(dataset).__name__}, not a {type(expected).__name__}")
    if list(dataset.genre_names) != list(expected.genre_names):
        raise ValueError(f"genres {dataset.genre_names}, expected {expected.genre_names}")
    if dataset.preprocessing != expected.preprocessing:
        raise ValueError("other preprocessing")
    wanted = {str(path.relative_to(root)): label for path, label in files}
    labels = np.asarray(dataset.labels)
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(dataset.paths):
        raise ValueError("labels do not match the paths")
    if any(wanted.get(p) != int(y) for p, y in zip(dataset.paths, labels)):
        raise ValueError("a file's label or name is not the folder's")
    if any(len(item) != 2 or item[0] not in wanted for item in dataset.skipped):
        raise ValueError("damaged list of skipped files")
    if len(dataset.paths) + len(dataset.skipped) != len(wanted):
        raise ValueError(f"{len(dataset.paths)} clips and {len(dataset.skipped)} skipped for "
                         f"{len(wanted)} files")
    dataset.check()


def cached_build(root, files, work, assemble, save, load, kind, key, cache_dir, use_cache,
                 workers, log, parallel_from=16):
    """The path every dataset build shares: the cache, both cores, and skipped files.

    Parameters
    ----------
    root : Path the files' names are relative to; files : list of (Path, label)
    work : callable path -> (result, None) or (None, reason), run in worker processes
    assemble : callable (kept: list of (relative name, label, result), skipped) -> dataset
    save, load : callables writing a dataset to / reading it from an .npz path
    kind, key : the cache file is ``<kind>-<key>.npz`` in ``cache_dir``
    parallel_from : how many files make a process pool worth its start-up

    Notes
    -----
    A cache hit is used unless one of the files it records as skipped reads now
    (it was fixed): skipped files are few, so they are retried every time, and
    named every time. A cache that cannot be written is a warning, not a failure.
    """
    cache_file = None
    if use_cache:
        cache_file = Path(cache_dir or default_cache_dir()) / f"{kind}-{key}.npz"
        if cache_file.exists():
            try:
                check_archive(cache_file)
                dataset = load(cache_file)
                check_cached(dataset, assemble([], []), root, files)
            except Exception as exc:  # a damaged cache is rebuilt, never trusted
                log(f"ignoring unreadable cache {cache_file} ({exc})")
            else:
                if not _a_skipped_file_reads_now(root, dataset.skipped, work, log):
                    log(f"loaded {len(dataset)} clips from cache {cache_file}")
                    _report_skipped(dataset.skipped, len(files), log)
                    return dataset
    if workers is None:
        workers = min(os.cpu_count() or 1, 2) if len(files) >= parallel_from else 1
    paths = [path for path, _ in files]
    results = map_in_workers(work, paths, workers, progress=progress_lines("reading", "files", log))
    kept, skipped = [], []
    for (path, label), (result, reason) in zip(files, results):
        rel = str(path.relative_to(root))
        if result is None:
            skipped.append((rel, reason))
            warnings.warn(f"skipping {path}: {reason}", stacklevel=4)
        else:
            kept.append((rel, label, result))
    dataset = assemble(kept, skipped)
    _report_skipped(skipped, len(files), log)
    if cache_file is not None and len(dataset):
        try:
            save(dataset, cache_file)
        except OSError as exc:  # a read-only or full disk: the clips are loaded all the same
            warnings.warn(f"cannot write the cache {cache_file} ({exc}); carrying on without "
                          "it (set NUMPY_SAE_CACHE or --cache-dir to a writable folder)",
                          stacklevel=4)
    return dataset


def _report_skipped(skipped, n_files, log):
    if skipped:
        log(f"skipped {len(skipped)} of {n_files} files:")
        for rel, reason in skipped:
            log(f"  {rel}: {reason}")


def _a_skipped_file_reads_now(root, skipped, work, log):
    """True when a file the cache records as skipped is readable now (its permissions were
    fixed, say): the cache is then stale."""
    for rel, _ in skipped:
        result, _ = work(Path(root) / rel)
        if result is not None:
            log(f"{rel} was skipped before and is readable now: rebuilding the cache")
            return True
    return False
