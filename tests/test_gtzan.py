import os
import time

import numpy as np
import pytest
from scipy.io import wavfile

from numpy_sae.data.gtzan import (
    DataError,
    Preprocessing,
    build_clipset,
    find_clips,
    load_clipset,
    save_clipset,
)

SR = 22050
PRE = Preprocessing(factor=10, window=100, max_windows=None)


def write_clip(path, seconds=0.5, seed=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    wavfile.write(path, SR, (rng.uniform(-0.5, 0.5, int(seconds * SR)) * 32767).astype(np.int16))


def make_tree(base, genres=("classical", "metal"), n=3, ext=".wav"):
    for g in genres:
        for i in range(n):
            write_clip(base / g / f"{g}.{i:05d}{ext}", seed=i + 10 * len(g))
    return base


@pytest.mark.parametrize("layout", ["kaggle_parent", "kaggle_data", "kaggle_genres", "marsyas",
                                    "plain"])
def test_discovery_of_layouts(tmp_path, layout):
    inner = {"kaggle_parent": "Data/genres_original", "kaggle_data": "Data/genres_original",
             "kaggle_genres": "Data/genres_original", "marsyas": "genres", "plain": ""}[layout]
    make_tree(tmp_path / inner)
    root = {"kaggle_parent": tmp_path, "kaggle_data": tmp_path / "Data",
            "kaggle_genres": tmp_path / "Data/genres_original", "marsyas": tmp_path,
            "plain": tmp_path}[layout]
    genre_root, files, names = find_clips(root, ["classical", "metal"])
    assert names == ["classical", "metal"]
    assert [p.name for p, _ in files] == [f"classical.{i:05d}.wav" for i in range(3)] + \
        [f"metal.{i:05d}.wav" for i in range(3)]
    assert [label for _, label in files] == [0, 0, 0, 1, 1, 1]


def test_marsyas_au_tree_loads(tmp_path):
    import struct
    for g in ("jazz", "rock"):
        (tmp_path / "genres" / g).mkdir(parents=True)
        for i in range(2):
            data = (np.arange(4000, dtype=np.int64) * (i + 3) % 2000 - 1000).astype(">i2").tobytes()
            header = struct.pack(">6I", 0x2E736E64, 24, len(data), 3, SR, 1)
            (tmp_path / "genres" / g / f"{g}.{i:05d}.au").write_bytes(header + data)
    clips = build_clipset(tmp_path, "all", PRE, use_cache=False, log=lambda s: None)
    assert clips.genre_names == ["jazz", "rock"] and len(clips) == 4


def test_hidden_and_appledouble_files_ignored(tmp_path):
    make_tree(tmp_path)
    (tmp_path / "metal" / "._metal.00000.wav").write_bytes(b"\0\x05\x16\x07")
    (tmp_path / "metal" / ".hidden.wav").write_bytes(b"junk")
    (tmp_path / "metal" / "notes.txt").write_text("not audio")
    _, files, _ = find_clips(tmp_path, ["metal", "classical"])
    assert len(files) == 6 and not any(p.name.startswith(".") for p, _ in files)


def test_genre_selection_errors(tmp_path):
    make_tree(tmp_path)
    with pytest.raises(DataError, match="genre.*pop.*not found.*found: classical, metal"):
        find_clips(tmp_path, ["classical", "pop"])
    with pytest.raises(DataError, match="data folder not found"):
        find_clips(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no genre folders"):
        find_clips(tmp_path / "empty", "all")
    with pytest.raises(DataError, match="at least two genres"):
        find_clips(tmp_path, ["metal"])


def test_windows_of_clips(tmp_path):
    make_tree(tmp_path, n=2)
    write_clip(tmp_path / "metal" / "metal.00009.wav", seconds=0.07)  # 154 samples: 1 window
    clips = build_clipset(tmp_path, ["classical", "metal"], PRE, use_cache=False, log=lambda s: None)
    X, y, song = clips.windows()
    # 0.5 s -> 1102 samples after /10 -> 11 windows of 100; the short clip gives 1.
    assert X.shape == (11 * 4 + 1, 100) and X.dtype == np.float32
    assert np.bincount(song).tolist() == [11, 11, 11, 11, 1]
    assert y.tolist() == [0] * 22 + [1] * 23
    np.testing.assert_array_equal(X[11], clips.signal(1)[:100])
    Xs, ys, ss = clips.windows([4, 0])
    assert ss.tolist() == [4] + [0] * 11 and ys[0] == 1


def test_corrupt_files_skipped_and_reported(tmp_path):
    make_tree(tmp_path, n=3)
    good = (tmp_path / "metal" / "metal.00000.wav").read_bytes()
    (tmp_path / "metal" / "metal.00054.wav").write_bytes(good[: len(good) // 3])  # truncated
    (tmp_path / "metal" / "metal.00055.wav").write_bytes(b"")                     # empty
    (tmp_path / "metal" / "metal.00056.wav").write_bytes(b"<html>not audio</html>")
    (tmp_path / "classical" / "classical.00077.wav").write_bytes(good[:40])      # header only
    write_clip(tmp_path / "classical" / "classical.00078.wav", seconds=0.01)     # too short
    lines = []
    with pytest.warns(UserWarning, match="skipping"):
        clips = build_clipset(tmp_path, ["classical", "metal"], PRE, use_cache=False,
                              log=lines.append)
    assert len(clips) == 6
    reasons = dict(clips.skipped)
    assert set(reasons) == {"metal/metal.00054.wav", "metal/metal.00055.wav",
                            "metal/metal.00056.wav", "classical/classical.00077.wav",
                            "classical/classical.00078.wav"}
    assert "truncated" in reasons["metal/metal.00054.wav"]
    assert "too short" in reasons["classical/classical.00078.wav"]
    assert any("skipped 5 of 11 files" in line for line in lines)


def test_genre_without_usable_files_is_an_error(tmp_path):
    make_tree(tmp_path, genres=("classical",), n=2)
    (tmp_path / "metal").mkdir()
    (tmp_path / "metal" / "metal.00000.wav").write_bytes(b"garbage")
    with pytest.warns(UserWarning), pytest.raises(DataError, match="metal.*no usable audio"):
        build_clipset(tmp_path, ["classical", "metal"], PRE, use_cache=False, log=lambda s: None)


def test_cache_hit_miss_and_atomic_write(tmp_path):
    data = make_tree(tmp_path / "data")
    cache = tmp_path / "cache"
    lines = []
    first = build_clipset(data, ["classical", "metal"], PRE, cache_dir=cache, log=lines.append)
    files = list(cache.glob("clips-*.npz"))
    assert len(files) == 1 and not list(cache.glob(".*tmp*"))
    second = build_clipset(data, ["classical", "metal"], PRE, cache_dir=cache, log=lines.append)
    assert any("from cache" in line for line in lines)
    np.testing.assert_array_equal(first.signals, second.signals)
    assert second.paths == first.paths and second.preprocessing == PRE
    # Any change to the files or the preprocessing misses the cache.
    build_clipset(data, ["classical", "metal"], Preprocessing(factor=5, window=100), cache_dir=cache,
                  log=lines.append)
    assert len(list(cache.glob("clips-*.npz"))) == 2
    target = data / "metal" / "metal.00001.wav"
    write_clip(target, seed=99)
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10**9))
    third = build_clipset(data, ["classical", "metal"], PRE, cache_dir=cache, log=lines.append)
    assert len(list(cache.glob("clips-*.npz"))) == 3
    assert not np.array_equal(third.signals, first.signals)
    # --no-cache writes nothing.
    build_clipset(data, ["classical", "metal"], PRE, cache_dir=tmp_path / "c2", use_cache=False,
                  log=lines.append)
    assert not (tmp_path / "c2").exists()


def test_save_is_atomic_when_interrupted(tmp_path, monkeypatch):
    clips = build_clipset(make_tree(tmp_path / "d"), "all", PRE, use_cache=False, log=lambda s: None)
    target = tmp_path / "c.npz"
    save_clipset(clips, target)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(KeyboardInterrupt):
        save_clipset(clips, target)
    assert target.read_bytes() == before  # the old file is untouched
    assert load_clipset(target).paths == clips.paths


def test_damaged_cache_is_rebuilt(tmp_path):
    data = make_tree(tmp_path / "data")
    cache = tmp_path / "cache"
    build_clipset(data, "all", PRE, cache_dir=cache, log=lambda s: None)
    (cached,) = cache.glob("clips-*.npz")
    cached.write_bytes(b"broken")
    lines = []
    clips = build_clipset(data, "all", PRE, cache_dir=cache, log=lines.append)
    assert len(clips) == 6 and any("ignoring unreadable cache" in line for line in lines)


def test_process_pool_gives_same_result(tmp_path):
    data = make_tree(tmp_path, n=4)
    one = build_clipset(data, "all", PRE, use_cache=False, workers=1, log=lambda s: None)
    two = build_clipset(data, "all", PRE, use_cache=False, workers=2, log=lambda s: None)
    np.testing.assert_array_equal(one.signals, two.signals)
    assert one.paths == two.paths
