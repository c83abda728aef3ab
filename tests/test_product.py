"""Classifying your own music: any format, whole songs, one call from Python, output for
scripts (--json, cv --out), and the stored spectra the segment model trains from."""

import csv
import json

import numpy as np
import pytest
from scipy.io import wavfile

from encoded_audio import write_encoded
from numpy_sae.commands.cli import main
from numpy_sae.data import decoders
from numpy_sae.data.synth import generate_dataset

pytestmark = pytest.mark.usefixtures("isolated_command")
SEGMENT = ("--model", "segment", "--window", "256", "--segment-seconds", "0.5", "--crops", "2",
           "--batch-size", "8")
needs_av = pytest.mark.skipif(not decoders.decoder_available(),
                              reason='PyAV is not installed: pip install -e ".[audio]"')


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("product")
    return generate_dataset(root, genres=("blues", "jazz"), clips_per_genre=6, duration=3.0,
                            seed=7)


def _train(tree, out, name, *extra):
    assert main(["train", "--data", str(tree), "--genres", "blues,jazz", "--epochs", "2",
                 "--out", str(out), "--name", name, "--no-figures", *extra]) == 0
    return out / name


@pytest.fixture(scope="module")
def runs(tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return {"segment": _train(tree, out, "seg", *SEGMENT),
            "joint": _train(tree, out, "joint", "--model", "joint")}


def _song(tree, seconds, rate=44100):
    """A long song: a clip of the tree looped, at ``rate`` Hz, float32 mono."""
    from numpy_sae.data.audio import load_audio
    clip = load_audio(tree / "jazz" / "jazz.00001.wav", rate)
    return np.tile(clip, int(np.ceil(seconds * rate / len(clip))))[:int(seconds * rate)]


# ----- any format --------------------------------------------------------------------------
@needs_av
@pytest.mark.parametrize("suffix, rate", [(".mp3", 44100), (".flac", 48000), (".ogg", 44100),
                                          (".opus", 48000), (".m4a", 44100), (".aiff", 48000)])
def test_compressed_stereo_files_decode_to_the_wav_signal(tree, tmp_path, suffix, rate):
    from numpy_sae.data.audio import load_audio
    signal = _song(tree, 20.0, rate)
    encoded = write_encoded(tmp_path / f"song{suffix}", signal, rate, channels=2)
    wav = tmp_path / "song.wav"
    wavfile.write(wav, rate, np.stack([signal, signal], axis=1))
    decoded, reference = load_audio(encoded, 22050), load_audio(wav, 22050)
    # Lossy codecs pad or trim a few ms; AIFF and FLAC are lossless.
    assert abs(len(decoded) - len(reference)) < 0.05 * 22050
    n = min(len(decoded), len(reference))
    assert decoded.dtype == np.float32
    assert np.corrcoef(decoded[:n], reference[:n])[0, 1] > 0.95


@needs_av
def test_predict_classifies_a_long_mp3_and_flac_on_the_whole_song(tree, runs, tmp_path,
                                                                 capsys):
    # 100 s of stereo at 44.1 and 48 kHz: every segment of the song is scored, as many as
    # the song holds, not the first 23 s.
    songs = [write_encoded(tmp_path / "long.mp3", _song(tree, 100.0), 44100),
             write_encoded(tmp_path / "long.flac", _song(tree, 100.0, 48000), 48000)]
    capsys.readouterr()
    assert main(["predict", str(runs["segment"]), "--json", *map(str, songs)]) == 0
    out = capsys.readouterr()
    document = json.loads(out.out)
    assert not document["errors"] and len(document["predictions"]) == 2
    for prediction in document["predictions"]:
        segment_seconds = prediction["seconds_per_step"]
        assert prediction["unit"] == "segment" and 0.4 < segment_seconds < 0.6
        assert abs(prediction["steps"] * segment_seconds - 100) < 2 * segment_seconds
        assert prediction["genre"] in ("blues", "jazz")
        assert abs(sum(prediction["probabilities"].values()) - 1) < 1e-5
        assert len(prediction["timeline"]["jazz"]) == prediction["steps"]


def test_without_the_extra_a_compressed_file_is_named_with_the_extra(tree, runs, tmp_path,
                                                                    capsys, monkeypatch):
    monkeypatch.setattr(decoders, "decoder_available", lambda: False)
    folder = tmp_path / "mp3s"
    folder.mkdir()
    for name in ("a.mp3", "b.flac", "c.m4a"):
        (folder / name).write_bytes(b"\xff\xfb" + bytes(500))
    capsys.readouterr()
    # A folder of only unreadable files exits non-zero and names each, with the extra.
    assert main(["predict", str(runs["segment"]), str(folder)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for name in ("a.mp3", "b.flac", "c.m4a"):
        line = next(line for line in err.splitlines() if name in line)
        assert 'pip install "numpy_sae[audio]"' in line, err
    # A tree of them: train names the formats and the extra, not "no audio".
    genre_tree = tmp_path / "tree"
    for genre in ("jazz", "rock"):
        (genre_tree / genre).mkdir(parents=True)
        for i in range(2):
            (genre_tree / genre / f"{genre}{i}.mp3").write_bytes(bytes(100))
    assert main(["train", "--data", str(genre_tree), "--genres", "all", "--epochs", "1",
                 "--out", str(tmp_path / "runs"), "--no-figures"]) == 1
    err = capsys.readouterr().err
    assert "4 audio file(s)" in err and ".mp3" in err and "numpy_sae[audio]" in err, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@needs_av
def test_a_corrupt_compressed_file_is_one_line_and_the_others_go_on(tree, runs, tmp_path,
                                                                  capsys):
    good = write_encoded(tmp_path / "good.mp3", _song(tree, 5.0), 44100)
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3" + bytes(2000))
    capsys.readouterr()
    assert main(["predict", str(runs["joint"]), str(bad), str(good)]) == 1
    out = capsys.readouterr()
    assert "good.mp3: " in out.out and "bad.mp3" not in out.out
    assert "bad.mp3" in out.err and "Traceback" not in out.err
    assert len([line for line in out.err.splitlines() if "bad.mp3" in line]) == 1


def test_a_folder_without_audio_fails_and_other_files_are_counted(runs, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "cover.jpg").write_bytes(b"\xff\xd8")
    capsys.readouterr()
    assert main(["predict", str(runs["joint"]), str(empty)]) == 1
    err = capsys.readouterr().err
    assert "skipped 1 file(s) that are not audio (cover.jpg)" in err
    assert "no audio files in it" in err


# ----- whole songs -------------------------------------------------------------------------
def test_evaluate_and_predict_score_the_whole_long_song(tree, runs, tmp_path, capsys):
    # Two 60 s stereo songs at 44.1 kHz: the joint model's grid covers all of each
    # (66 windows of 500 samples at 551 Hz), not the first 25 (22.7 s).
    long_tree = tmp_path / "long"
    for genre in ("blues", "jazz"):
        (long_tree / genre).mkdir(parents=True)
        signal = _song(tree, 60.0)
        wavfile.write(long_tree / genre / f"{genre}.wav", 44100, np.stack([signal] * 2, 1))
    capsys.readouterr()
    assert main(["evaluate", str(runs["joint"]), "--data", str(long_tree), "--no-cache",
                 "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    windows = 60 * 44100 // 80 // 500  # 22050 Hz, then factor 40: 551.25 Hz
    assert document["results"]["all clips"]["window"]["n"] == 2 * windows
    assert document["results"]["all clips"]["song"]["n"] == 2
    assert main(["predict", str(runs["joint"]), "--json",
                 str(long_tree / "jazz" / "jazz.wav")]) == 0
    assert json.loads(capsys.readouterr().out)["predictions"][0]["steps"] == windows


# ----- one call from Python ----------------------------------------------------------------
def test_load_model_predicts_a_file_and_audio_in_memory_alike(tree, runs, tmp_path):
    import numpy_sae
    for kind, run in runs.items():
        model = numpy_sae.load_model(run)
        song = tmp_path / f"{kind}.wav"
        signal = _song(tree, 12.0)
        wavfile.write(song, 44100, np.stack([signal, signal], axis=1))
        from_file = model.predict_file(song)
        in_memory = model.predict_audio(np.stack([signal, signal], axis=1), 44100)
        assert from_file.genre == in_memory.genre and from_file.genre in ("blues", "jazz")
        np.testing.assert_allclose(from_file.timeline, in_memory.timeline, atol=1e-5)
        assert list(from_file.probabilities) == sorted(from_file.probabilities,
                                                       key=lambda g: -from_file.probabilities[g])
        assert len(from_file.times) == len(from_file.timeline) and from_file.times[0] == 0
        assert json.loads(json.dumps(from_file.to_dict()))["genre"] == from_file.genre


@pytest.mark.parametrize("y, sr, message", [
    (np.zeros((2, 3, 4)), 22050, r"shape \(n,\) or \(n, channels\)"),
    (np.array(["a"]), 22050, "real samples"),
    (np.full(22050, np.nan), 22050, "NaN or inf"),
    (np.zeros(22050), 0, "sample rate"),
    (np.zeros(22050), 22050.5, "sample rate"),
    (np.zeros(100), 22050, "too short"),
])
def test_predict_audio_names_what_is_wrong(runs, y, sr, message):
    import numpy_sae
    from numpy_sae.data.audio import AudioError
    with pytest.raises(AudioError, match=message):
        numpy_sae.load_model(runs["joint"]).predict_audio(y, sr, name="clip")


# ----- output for scripts ------------------------------------------------------------------
def test_cv_writes_its_folds_as_csv_and_prints_json(tree, tmp_path, capsys):
    out = tmp_path / "cv"
    capsys.readouterr()
    assert main(["cv", "--data", str(tree), "--genres", "blues,jazz", "--folds", "3",
                 "--epochs", "1", *SEGMENT, "--json", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)  # stdout is the document alone
    assert "fold 1/3" in captured.err  # progress went to stderr
    assert document["model"] == "segment" and len(document["folds"]) == 3
    with open(out / "folds.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["fold"]) for r in rows] == [1, 2, 3]
    assert sum(int(r["songs"]) for r in rows) == 12
    mean = np.mean([float(r["song_accuracy"]) for r in rows])
    assert mean == pytest.approx(document["song_mean"], abs=1e-5)
    # An existing --out is not replaced (and nothing is trained) without --force.
    assert main(["cv", "--data", str(tree), "--genres", "blues,jazz", "--folds", "3",
                 "--epochs", "1", *SEGMENT, "--out", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err


def test_train_quiet_prints_no_progress_but_its_report(tree, tmp_path, capsys):
    capsys.readouterr()
    assert main(["train", "--data", str(tree), "--genres", "blues,jazz", "--epochs", "2",
                 "--out", str(tmp_path), "--name", "q", "--no-figures", "-q", *SEGMENT]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/2" not in out and "reading:" not in out
    assert "test set, song level" in out and "next: numpy-sae predict" in out


# ----- the segment model's stored spectra ---------------------------------------------------
def test_stored_spectra_equal_the_frames_transformed_again(tree):
    from numpy_sae.commands.cli import _run_settings, build_parser
    from numpy_sae.commands.experiment import load_dataset, new_audio_model, training_source
    settings = _run_settings(build_parser().parse_args(
        ["train", "--data", str(tree), "--genres", "blues,jazz", "--no-cache", "--model",
         "segment"]))
    clipset = load_dataset(settings, log=lambda line: None).clipset
    model = new_audio_model(settings, clipset, np.random.default_rng(0))
    table = model.frame_table(clipset)
    assert table.features.dtype == np.float16
    lazy, y, song = model.windows(clipset)
    stored, y2, song2 = model.windows(clipset, table=table)
    assert stored.table is table and lazy.table is None
    np.testing.assert_array_equal(y, y2)
    every = np.arange(len(lazy))
    # float16 keeps a log magnitude (-9.2 to about 7) to within 2^-8.
    np.testing.assert_allclose(stored[every], lazy[every], atol=4e-3)
    # The random crops read the table too, starting on its hop grid.
    source = training_source(settings, clipset, np.arange(len(clipset)), stored, y,
                             model.features)
    crops, _ = source.epoch(np.random.default_rng(0))
    assert crops.table is table
    within = crops.starts - clipset.offsets[np.searchsorted(clipset.offsets, crops.starts,
                                                            side="right") - 1]
    assert not (within % clipset.preprocessing.step).any()
    picked = np.arange(0, len(crops), 7)
    fresh = model.features(crops._frames[crops.starts[picked][:, None]
                                         + crops._frame_offsets])
    np.testing.assert_allclose(crops[picked], fresh, atol=4e-3)


def test_a_run_on_few_songs_says_its_figures_mean_little(runs):
    # Audit G10: 2 test songs and a lopsided tree got no word of warning.
    report = (runs["joint"] / "report.txt").read_text()
    assert "note: the test set holds 2 songs (1 of some genre): one song is 50 points" in report


def test_the_cache_is_listed_and_cleared_and_nothing_else(tmp_path, capsys):
    # Audit G13: nothing listed or cleared the cache (1.7 GB in one afternoon).
    cache = tmp_path / "cache"
    (cache / "synthetic-jazz-2x1s-seed0" / "genres_original").mkdir(parents=True)
    (cache / "synthetic-jazz-2x1s-seed0" / "genres_original" / "a.wav").write_bytes(bytes(3000))
    (cache / "clips-0123abcd.npz").write_bytes(bytes(2000))
    (cache / "my-notes.txt").write_text("not numpy_sae's")
    assert main(["cache", "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr().out
    assert "2 entries, 0.0 MB" in out and "clips-0123abcd.npz" in out and "my-notes" not in out
    assert main(["cache", "--cache-dir", str(cache), "--clear"]) == 0
    assert sorted(p.name for p in cache.iterdir()) == ["my-notes.txt"]
    assert main(["cache", "--cache-dir", str(cache)]) == 0
    assert "no cached data" in capsys.readouterr().out


def test_jobs_sets_the_processes_that_read_and_generate(tree, runs, tmp_path, monkeypatch,
                                                        capsys):
    # Audit G14: loading was fixed at min(cores, 2) workers; no flag changed it.
    from numpy_sae.data import gtzan, synth
    asked = []

    def spy(module):
        real = module.map_in_workers

        def recorded(work, items, workers, **options):
            asked.append((module.__name__.rsplit(".", 1)[-1], workers))
            return real(work, items, 1, **options)  # the work itself, in this process
        monkeypatch.setattr(module, "map_in_workers", recorded)
    spy(gtzan)
    spy(synth)
    assert main(["synth", str(tmp_path / "s"), "--genres", "pop,rock", "--clips", "9",
                 "--duration", "0.5", "--jobs", "3"]) == 0
    assert main(["evaluate", str(runs["segment"]), "--data", str(tree), "--no-cache",
                 "-j", "1", "-q"]) == 0
    assert main(["train", "--data", str(tree), "--genres", "blues,jazz", "--epochs", "1",
                 "--out", str(tmp_path / "r"), "--name", "j", "--no-figures", "--no-cache",
                 "-q", "--jobs", "5", *SEGMENT]) == 0
    assert asked == [("synth", 3), ("gtzan", 1), ("gtzan", 5)]
    # A resume may read with other processes; nothing it trains changes.
    assert main(["train", "--resume", str(tmp_path / "r" / "j"), "--epochs", "2", "--jobs", "2",
                 "--no-figures", "-q"]) == 0
    assert asked[-1] == ("gtzan", 2)
    capsys.readouterr()
    assert main(["train", "--jobs", "0"]) == 2
    assert "--jobs: expected a number of processes from 1 to 256, got '0'" in capsys.readouterr().err
