"""Train / validation / test splits that say what they leak and what they do not.

``song_split`` keeps every song whole on one side (stratified by genre): the
honest protocol, because the windows of one song are near-copies of each
other. ``segment_split`` is the study's random split of windows, kept for
comparison: windows of the same song land in train and test, which inflates
accuracy. ``song_folds`` gives stratified song-level folds for cross-validation.
"""

from pathlib import Path

import numpy as np


def _fraction_counts(n, fractions):
    """Split n items by fractions; rounding leftovers go to the largest part first."""
    fractions = np.asarray(fractions, dtype=np.float64)
    raw = fractions * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return counts


def check_fractions(fractions):
    fractions = tuple(float(f) for f in fractions)
    if len(fractions) != 3 or min(fractions) < 0 or fractions[0] <= 0 or fractions[1] <= 0 \
            or abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"split fractions must be three numbers >= 0 summing to 1, with "
                         f"train and validation > 0; got {fractions}")
    return fractions


def song_split(labels, rng, fractions=(0.7, 0.15, 0.15)):
    """Split clips (songs) into train / validation / test, stratified by genre.

    Parameters
    ----------
    labels : int array (n_clips,), genre of each clip
    rng : numpy.random.Generator
    fractions : (train, validation, test), summing to 1

    Returns
    -------
    train, validation, test : int arrays of clip indices (disjoint, sorted)

    Notes
    -----
    Each genre is shuffled and cut separately, so every part keeps the genre
    proportions; a genre with too few songs still gives one song to train and,
    when it has two or more, one to validation.
    """
    fractions = check_fractions(fractions)
    labels = np.asarray(labels)
    parts = ([], [], [])
    for genre in np.unique(labels):
        songs = rng.permutation(np.flatnonzero(labels == genre))
        counts = _fraction_counts(len(songs), fractions)
        if len(songs) >= 2 and counts[1] == 0:
            donor = 0 if counts[0] > 1 else 2
            counts[donor] -= 1
            counts[1] += 1
        bounds = np.cumsum(counts)
        for part, chunk in zip(parts, np.split(songs, bounds[:-1])):
            part.append(chunk)
    return tuple(np.sort(np.concatenate(p)).astype(np.int64) for p in parts)


def segment_split(n_windows, rng, fractions=(0.8, 0.2, 0.0)):
    """The study's protocol: a random split of *windows*, ignoring songs (leaky).

    Returns
    -------
    train, validation, test : int arrays of window indices
    """
    fractions = check_fractions(fractions)
    order = rng.permutation(n_windows)
    bounds = np.cumsum(_fraction_counts(n_windows, fractions))
    return tuple(np.sort(part).astype(np.int64) for part in np.split(order, bounds[:-1]))


def song_folds(labels, k, rng):
    """Stratified song-level folds for cross-validation.

    Parameters
    ----------
    labels : int array (n_clips,)
    k : int >= 2
    rng : numpy.random.Generator

    Returns
    -------
    list of k int arrays of clip indices: disjoint, together every clip once,
    each genre spread over the folds as evenly as possible.
    """
    labels = np.asarray(labels)
    if k < 2:
        raise ValueError(f"need at least 2 folds, got {k}")
    smallest = np.bincount(labels).min() if len(labels) else 0
    if smallest < k:
        raise ValueError(f"{k} folds need at least {k} songs per genre; the smallest genre has "
                         f"{smallest}")
    folds = [[] for _ in range(k)]
    start = 0
    for genre in np.unique(labels):
        songs = rng.permutation(np.flatnonzero(labels == genre))
        # Rotate where each genre starts so the folds with an extra song differ per genre.
        for j, song in enumerate(songs):
            folds[(start + j) % k].append(song)
        start += len(songs)
    return [np.sort(np.array(f, dtype=np.int64)) for f in folds]


def read_split_files(paths, clip_paths):
    """Use a published split: one text file per subset, one relative path per line.

    Parameters
    ----------
    paths : (train_file, validation_file, test_file)
    clip_paths : list of str, each clip's path relative to the genre root
        (``blues/blues.00000.wav``)

    Returns
    -------
    train, validation, test : int arrays of clip indices

    Notes
    -----
    Lines match clips by genre folder and file stem, so a list written for the
    ``.au`` archive also works on the ``.wav`` copy. Blank lines and lines
    starting with '#' are ignored. Every listed file must exist and appear once.
    """
    index = {}
    for i, rel in enumerate(clip_paths):
        p = Path(rel)
        index[(p.parent.name, p.stem)] = i
    parts, seen = [], {}
    for name in paths:
        chosen = []
        # surrogateescape reads a name that is not valid UTF-8 as os.fsdecode would.
        text = Path(name).read_text(errors="surrogateescape")
        for lineno, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            p = Path(line)
            key = (p.parent.name or p.name.split(".")[0], p.stem)
            if key not in index:
                raise ValueError(f"{name}:{lineno}: {line!r} is not among the loaded clips")
            if key in seen:
                raise ValueError(f"{name}:{lineno}: {line!r} is already listed in {seen[key]}")
            seen[key] = name
            chosen.append(index[key])
        parts.append(np.sort(np.array(chosen, dtype=np.int64)))
    if len(parts[0]) == 0 or len(parts[1]) == 0:
        raise ValueError("split files must list at least one training and one validation clip")
    return tuple(parts)


FILTERED_LISTS = ("train_filtered.txt", "valid_filtered.txt", "test_filtered.txt")
MAX_MISSING = 0.05


def filtered_lists():
    """The fault-filtered GTZAN split (Kereliuk, Larsen and Christensen, 2015) as shipped
    in this package: three lists of ``genre/genre.000NN.wav`` (443, 197 and 290 clips)."""
    folder = Path(__file__).resolve().parent / "split_lists"
    return tuple([line.strip() for line in (folder / name).read_text().splitlines()
                  if line.strip()] for name in FILTERED_LISTS)


def filtered_split(clip_paths, genre_names):
    """The fault-filtered split of the clips of ``genre_names`` that are loaded.

    Parameters
    ----------
    clip_paths : list of str, each loaded clip's path relative to the genre root
    genre_names : the genres in use; list entries of other genres are left out

    Returns
    -------
    (train, validation, test) : int arrays of clip indices
    missing : list of list entries of these genres with no loaded clip (a ``.wav`` or
        ``.au`` of the same name counts; a missing or unreadable file does not)

    Raises
    ------
    ValueError when more than 5% of the listed clips of these genres are missing:
    the tree is then not the full GTZAN.
    """
    index = {(Path(rel).parent.name, Path(rel).stem): i for i, rel in enumerate(clip_paths)}
    wanted = set(genre_names)
    parts, missing, listed = [], [], 0
    for entries in filtered_lists():
        chosen = []
        for entry in entries:
            key = (Path(entry).parent.name, Path(entry).stem)
            if key[0] not in wanted:
                continue
            listed += 1
            if key in index:
                chosen.append(index[key])
            else:
                missing.append(entry)
        parts.append(np.sort(np.array(chosen, dtype=np.int64)))
    if listed == 0:
        raise ValueError(f"the fault-filtered split lists no clip of {', '.join(genre_names)}")
    if len(missing) > MAX_MISSING * listed:
        raise ValueError(f"{len(missing)} of the {listed} clips the fault-filtered split lists "
                         f"for these genres are missing or unreadable (e.g. {missing[0]}): this "
                         "is not a full GTZAN tree; use --split song")
    return tuple(parts), missing
