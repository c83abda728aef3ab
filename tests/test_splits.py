import numpy as np
import pytest

from numpy_sae.data.splits import (
    read_split_files,
    segment_split,
    song_folds,
    song_split,
)


def test_song_split_is_disjoint_stratified_and_seeded():
    labels = np.repeat(np.arange(4), 20)
    train, val, test = song_split(labels, np.random.default_rng(0))
    assert not set(train) & set(val) and not set(train) & set(test) and not set(val) & set(test)
    assert len(train) + len(val) + len(test) == 80
    assert np.bincount(labels[train]).tolist() == [14] * 4
    assert np.bincount(labels[val]).tolist() == [3] * 4
    again = song_split(labels, np.random.default_rng(0))
    other = song_split(labels, np.random.default_rng(1))
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))
    assert not np.array_equal(train, other[0])


def test_no_window_of_a_song_on_two_sides():
    labels = np.repeat(np.arange(3), 7)
    song_of_window = np.repeat(np.arange(21), 25)
    parts = song_split(labels, np.random.default_rng(3))
    sides = [set(np.flatnonzero(np.isin(song_of_window, p))) for p in parts]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])


def test_small_genres_still_get_train_and_validation():
    labels = np.array([0, 0, 1, 1, 1, 2])
    train, val, _ = song_split(labels, np.random.default_rng(0))
    assert set(labels[train]) == {0, 1, 2}
    assert {0, 1} <= set(labels[val])


def test_segment_split_is_leaky_by_design():
    train, val, test = segment_split(1000, np.random.default_rng(0))
    assert len(train) == 800 and len(val) == 200 and len(test) == 0
    song = np.repeat(np.arange(40), 25)
    assert set(song[train]) & set(song[val])  # the leak the study had


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.7, 0.2, 0.2), (0.9, 0.0, 0.1), (1.2, -0.1, -0.1)])
def test_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions"):
        song_split([0, 1], np.random.default_rng(0), fractions)


def test_song_folds_stratified_disjoint_complete():
    labels = np.repeat(np.arange(6), 10)
    labels = np.append(labels, 3)  # one genre with 11 songs, like jazz in gtzan_mini_6
    folds = song_folds(labels, 5, np.random.default_rng(0))
    joined = np.concatenate(folds)
    assert sorted(joined.tolist()) == list(range(61))
    for fold in folds:
        counts = np.bincount(labels[fold], minlength=6)
        assert counts.min() >= 2 and counts.max() <= 3
    with pytest.raises(ValueError, match="at least 5 songs per genre"):
        song_folds(np.array([0, 0, 0, 1, 1, 1]), 5, np.random.default_rng(0))


def test_split_files(tmp_path):
    clip_paths = [f"{g}/{g}.{i:05d}.wav" for g in ("blues", "rock") for i in range(4)]
    (tmp_path / "train.txt").write_text("# artist-filtered\nblues/blues.00000.au\nrock/rock.00001.au\n\n")
    (tmp_path / "valid.txt").write_text("blues/blues.00002.wav\n")
    (tmp_path / "test.txt").write_text("rock/rock.00003.wav\n")
    names = [tmp_path / n for n in ("train.txt", "valid.txt", "test.txt")]
    train, val, test = read_split_files(names, clip_paths)
    assert train.tolist() == [0, 5] and val.tolist() == [2] and test.tolist() == [7]
    (tmp_path / "test.txt").write_text("rock/rock.00009.wav\n")
    with pytest.raises(ValueError, match=r"test.txt:1: 'rock/rock.00009.wav' is not among"):
        read_split_files(names, clip_paths)
    (tmp_path / "test.txt").write_text("blues/blues.00000.wav\n")
    with pytest.raises(ValueError, match="already listed"):
        read_split_files(names, clip_paths)


def full_gtzan_names(extension=".wav"):
    from numpy_sae.data.gtzan import GENRES
    return [f"{g}/{g}.{i:05d}{extension}" for g in GENRES for i in range(100)]


def test_the_fault_filtered_split_on_a_full_tree_of_names():
    from numpy_sae.data.gtzan import GENRES
    from numpy_sae.data.splits import filtered_split
    names = full_gtzan_names()
    (train, valid, test), missing = filtered_split(names, list(GENRES))
    assert (len(train), len(valid), len(test)) == (443, 197, 290) and not missing
    assert not set(train) & set(valid) and not set(valid) & set(test)
    # The four default genres: classical 48/20/31, country 45/23/30, metal 44/20/27, pop 41/13/30.
    subset = ["classical", "country", "metal", "pop"]
    (train, valid, test), _ = filtered_split(names, subset)
    assert (len(train), len(valid), len(test)) == (178, 76, 118)
    assert {names[i].split("/")[0] for i in np.concatenate([train, valid, test])} == set(subset)
    (train, _, _), _ = filtered_split(full_gtzan_names(".au"), ["classical"])  # Marsyas names
    assert len(train) == 48


def test_missing_clips_warn_and_too_many_are_an_error():
    from numpy_sae.data.splits import filtered_split
    names = full_gtzan_names()
    names.remove("jazz/jazz.00054.wav")  # the Kaggle copy's broken clip
    (train, valid, test), missing = filtered_split(names, ["jazz"])
    assert missing == ["jazz/jazz.00054.wav"]  # listed: it is skipped, warned and counted
    complete, _ = filtered_split(full_gtzan_names(), ["jazz"])
    assert sum(map(len, (train, valid, test))) == sum(map(len, complete)) - 1
    few = [n for n in names if not n.startswith("pop/pop.000")]  # 10 of ~84 listed pop clips gone
    with pytest.raises(ValueError, match="not a full GTZAN tree; use --split song"):
        filtered_split(few, ["pop"])
