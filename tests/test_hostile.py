"""Hostile inputs, kept together: what a user trying to break numpy_sae would try.

Names, paths, headers, model metadata, resumes and resource bounds. Each case
ends in a working run or in one clear line naming the file or the value,
never a traceback, silent data loss or a file written outside where asked.
"""

import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

import numpy_sae
from conftest import other_songs, small_network
from scipy.io import wavfile

from numpy_sae import SoftmaxAutoencoder
from numpy_sae.commands.cli import main
from numpy_sae.data.audio import AudioError, load_audio
from numpy_sae.data.gtzan import Preprocessing, build_clipset
from numpy_sae.data.npzio import atomic_savez
from numpy_sae.data.synth import generate_dataset
from numpy_sae.modelfile import ModelFileError, load_model_file, save_model_file

LATIN1_NAME = os.fsdecode(b"chanson-\xe9t\xe9.wav")  # not valid UTF-8
pytestmark = pytest.mark.usefixtures("isolated_command")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("source")
    return generate_dataset(root, genres=("blues", "jazz"), clips_per_genre=6, duration=2.0,
                            seed=2)


@pytest.fixture
def tree(source, tmp_path):
    """A private copy of the tiny tree, so a test may change it."""
    return shutil.copytree(source, tmp_path / "tree")


def train(tree, out, *extra):
    # No figures (about a second per run): no test here looks at them.
    return main(["train", "--model", "joint", "--data", str(tree), "--genres", "blues,jazz", "--epochs", "1",
                 "--batch-size", "8", "--crops", "2", "--out", str(out), *extra,
                 "--no-figures"])


def one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(n in err for n in needles), err
    return err


# ----- names and paths ---------------------------------------------------------------------
def test_a_file_name_that_is_not_utf8_works_everywhere(tree, tmp_path, capsys):
    latin1 = tree / "blues" / LATIN1_NAME
    shutil.copy(tree / "blues" / "blues.00000.wav", latin1)
    broken = tree / "jazz" / os.fsdecode(b"cass\xe9.wav")
    broken.write_bytes(b"RIFF not really")
    for name in ("a", "b"):  # the second run reads the cache
        assert train(tree, tmp_path / "runs", "--name", name) == 0
    out = capsys.readouterr()
    # Named on screen with the odd byte escaped (a terminal may not show it otherwise).
    assert "Traceback" not in out.err and "jazz/cass\\udce9.wav" in out.out
    metrics = json.loads((tmp_path / "runs" / "b" / "metrics.json").read_text())
    assert [os.fsencode(p) for p, _ in metrics["skipped_files"]] == [b"jazz/cass\xe9.wav"]
    clips = build_clipset(tree, ["blues", "jazz"], Preprocessing(), log=lambda s: None)
    assert os.fsdecode(b"blues/chanson-\xe9t\xe9.wav") in clips.paths
    assert main(["evaluate", str(tmp_path / "runs" / "b"), "--data", str(tree)]) == 0
    assert main(["predict", str(tmp_path / "runs" / "b"), str(latin1)]) == 0
    assert "chanson-\\udce9t\\udce9.wav: " in capsys.readouterr().out


@pytest.mark.parametrize("name", ["../../victim", "..", ".", "/tmp/abs", "a/b"])
def test_a_run_name_is_one_folder_inside_out(tree, tmp_path, capsys, name):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "report.txt").write_text("mine")
    assert train(tree, tmp_path / "runs" / "deep", "--name", name) == 2
    one_line_error(capsys, "must be a single folder name")
    assert (victim / "report.txt").read_text() == "mine"
    assert not (tmp_path / "runs").exists()


def test_a_run_never_overwrites_files_it_did_not_create(tree, tmp_path, capsys):
    mine = tmp_path / "runs" / "taken"
    mine.mkdir(parents=True)
    (mine / "history.csv").write_text("my notes")
    assert train(tree, tmp_path / "runs", "--name", "taken") == 1
    one_line_error(capsys, "already exists and is not empty")
    assert (mine / "history.csv").read_text() == "my notes"


def test_data_that_is_a_file_says_so(tree, tmp_path, capsys):
    assert main(["train", "--model", "joint", "--data", str(tree / "blues" / "blues.00000.wav")]) == 1
    one_line_error(capsys, "data folder not found", "(it is a file)")


def test_dangling_links_and_loops_are_named_as_skipped(tree, tmp_path, capsys):
    os.symlink(tmp_path / "gone.wav", tree / "blues" / "dangling.wav")
    os.symlink(tree / "jazz" / "loop.wav", tree / "jazz" / "loop.wav")
    with pytest.warns(UserWarning, match="skipping") as caught:
        clips = build_clipset(tree, ["blues", "jazz"], Preprocessing(), use_cache=False,
                              log=lambda s: None)
    assert len(caught) == 2
    assert {p for p, _ in clips.skipped} == {"blues/dangling.wav", "jazz/loop.wav"}
    assert len(clips) == 12


# ----- resume ------------------------------------------------------------------------------
def test_resume_refuses_changed_data_and_works_from_elsewhere(tree, tmp_path, capsys,
                                                             monkeypatch):
    relative = os.path.relpath(tree, tmp_path)
    assert main(["train", "--model", "joint", "--data", relative, "--genres", "blues,jazz", "--epochs", "1",
                 "--batch-size", "8", "--crops", "2", "--name", "r", "--no-figures"]) == 0
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["train", "--resume", str(tmp_path / "runs" / "r"), "--epochs", "2",
                 "--no-figures"]) == 0
    (tree / "blues" / "blues.00001.wav").unlink()
    (tree / "jazz" / "jazz.00002.wav").unlink()
    shutil.copy(tree / "jazz" / "jazz.00003.wav", tree / "jazz" / "jazz.00099.wav")
    assert main(["train", "--resume", str(tmp_path / "runs" / "r"), "--epochs", "3"]) == 1
    err = one_line_error(capsys, "the data changed since", "blues/blues.00001.wav")
    assert "lost" in err and "gained" in err


def test_resume_notices_a_file_replaced_under_the_same_name(tree, tmp_path, capsys):
    assert train(tree, tmp_path / "runs", "--name", "s") == 0
    target = tree / "jazz" / "jazz.00001.wav"
    target.write_bytes(target.read_bytes() + b"\0" * 1000)  # same name, other content
    assert main(["train", "--resume", str(tmp_path / "runs" / "s"), "--epochs", "2"]) == 1
    one_line_error(capsys, "has changed files 1 (jazz/jazz.00001.wav)")


@pytest.mark.parametrize("option", [["--lr", "0.5"], ["--genres", "jazz,blues"], ["--study"]])
def test_resume_refuses_other_settings(tmp_path, capsys, option):
    (tmp_path / "run").mkdir()
    assert main(["train", "--resume", str(tmp_path / "run"), *option]) == 2
    one_line_error(capsys, "only --epochs may change")


@pytest.mark.parametrize("key, value, problem", [
    ("rng", {"bit_generator": "PCG64", "state": "garbage"}, "random generator"),
    ("history", {"loss": "not a list"}, "history"),
    ("epoch", -3, "epoch is -3"),
])
def test_a_damaged_training_state_is_a_clear_error(tree, tmp_path, capsys, key, value, problem):
    assert train(tree, tmp_path / "runs", "--name", "d") == 0
    path = tmp_path / "runs" / "d" / "model.npz"
    rewrite_record(path, lambda record: record["trainer"].__setitem__(key, value))
    assert main(["train", "--resume", str(tmp_path / "runs" / "d"), "--epochs", "2"]) == 1
    one_line_error(capsys, "training state is damaged", problem)


# ----- headers and audio -------------------------------------------------------------------
def wav_with_rate(path, rate_in_header):
    wavfile.write(path, 22050, np.zeros(44100, dtype=np.int16))
    raw = bytearray(path.read_bytes())
    raw[24:28] = struct.pack("<I", rate_in_header)
    raw[28:32] = struct.pack("<I", rate_in_header * 2)  # bytes per second, consistent
    path.write_bytes(bytes(raw))


def test_a_sample_rate_of_zero_is_a_skipped_corrupt_file(tree, tmp_path, capsys):
    wav_with_rate(tree / "blues" / "zero.wav", 0)
    with pytest.raises(AudioError, match="zero.wav: header gives a sample rate of 0 Hz"):
        load_audio(tree / "blues" / "zero.wav")
    with pytest.warns(UserWarning, match="zero.wav"):
        clips = build_clipset(tree, ["blues", "jazz"], Preprocessing(), use_cache=False,
                              log=lambda s: None)
    assert [p for p, _ in clips.skipped] == ["blues/zero.wav"]
    assert train(tree, tmp_path / "runs", "--name", "z") == 0
    assert main(["predict", str(tmp_path / "runs" / "z"), str(tree / "blues" / "zero.wav"),
                 str(tree / "missing.au"), str(tree / "blues" / "blues.00000.wav")]) == 1
    out = capsys.readouterr()
    assert "sample rate of 0 Hz" in out.err and "missing.au" in out.err
    assert "blues.00000.wav: " in out.out  # the bad files did not stop the good one


def test_a_streamed_wav_is_read_to_its_end(tmp_path):
    signal = (np.sin(np.arange(22050) / 7) * 8000).astype(np.int16)
    wavfile.write(tmp_path / "s.wav", 22050, signal)
    raw = bytearray((tmp_path / "s.wav").read_bytes())
    raw[4:8] = b"\xff\xff\xff\xff"
    data = raw.find(b"data")
    raw[data + 4:data + 8] = b"\xff\xff\xff\xff"
    (tmp_path / "s.wav").write_bytes(bytes(raw))
    np.testing.assert_allclose(load_audio(tmp_path / "s.wav"), signal / 32768.0, atol=1e-7)


# ----- the cache ---------------------------------------------------------------------------
def test_an_unwritable_cache_warns_once_and_the_run_goes_on(tree, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert train(tree, tmp_path / "runs", "--name", "c", "--cache-dir",
                 str(blocker / "cache")) == 0
    err = capsys.readouterr().err
    assert err.count("cannot write the cache") == 1 and "Traceback" not in err


def test_skipped_files_are_retried_and_always_named(tree, tmp_path):
    target = tree / "jazz" / "jazz.00004.wav"
    good = target.read_bytes()
    stat = target.stat()
    target.write_bytes(b"XXXX" + good[4:])  # same size, broken header
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    lines = []
    with pytest.warns(UserWarning, match="jazz.00004.wav"):
        first = build_clipset(tree, ["blues", "jazz"], Preprocessing(), log=lines.append)
    assert [p for p, _ in first.skipped] == ["jazz/jazz.00004.wav"]
    lines.clear()
    again = build_clipset(tree, ["blues", "jazz"], Preprocessing(), log=lines.append)
    assert "loaded 11 clips from cache" in lines[0] and any("jazz.00004.wav" in s for s in lines)
    target.write_bytes(good)  # fixed; same size and mtime, so the cache key is the same
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    lines.clear()
    fixed = build_clipset(tree, ["blues", "jazz"], Preprocessing(), log=lines.append)
    assert len(fixed) == 12 and not fixed.skipped and len(again) == 11
    assert any("readable now" in s for s in lines)


def test_a_killed_write_leaves_no_temp_file_behind(tmp_path):
    target = tmp_path / "model.npz"
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True)
    dead_pid = int(child.stdout)  # that process has ended
    stale = tmp_path / f".model.npz.tmp{dead_pid}"
    stale.write_bytes(b"half a file")
    atomic_savez(target, {"a": np.zeros(3)})
    assert not stale.exists() and target.exists()


# ----- model files -------------------------------------------------------------------------
def rewrite_record(path, change):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    record = json.loads(str(arrays["record"]))
    change(record)
    arrays["record"] = np.array(json.dumps(record))
    np.savez(path, **arrays)


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "m.npz"
    save_model_file(path, small_network(), {"genre_names": ["a", "b", "c"],
                                            "preprocessing": Preprocessing(window=10).to_dict(),
                                            "input": "waveform"})
    return path


@pytest.mark.parametrize("change, message", [
    (lambda r: r["model"].update(activation="evil"), "activation must be one of"),
    (lambda r: r["model"].update(encoder_hidden=[1e6, 1e6, 1e6]), "asks for"),
    (lambda r: r["model"].update(code_dim=10 ** 9), "asks for"),
    (lambda r: r["model"].update(input_dim="wide"), "stored architecture is invalid"),
    (lambda r: r.update({"class": "os.system"}), "unknown network class"),
])
def test_tampered_architectures_are_refused_before_anything_is_allocated(model_file, change,
                                                                         message):
    rewrite_record(model_file, change)
    with pytest.raises(ModelFileError, match=message):
        load_model_file(model_file)


@pytest.mark.parametrize("field, value", [("sample_rate", 10 ** 9), ("window", 0),
                                          ("factor", "x"), ("max_windows", 10 ** 12)])
def test_absurd_audio_settings_in_a_model_file(model_file, capsys, field, value):
    rewrite_record(model_file, lambda r: r["meta"]["preprocessing"].__setitem__(field, value))
    assert main(["predict", str(model_file), "x.wav"]) == 1
    one_line_error(capsys, "has no usable audio settings", field)


def test_random_bytes_are_not_called_a_pickle(tmp_path, capsys):
    (tmp_path / "noise.npz").write_bytes(np.random.default_rng(0).bytes(4096))
    assert main(["predict", str(tmp_path / "noise.npz"), "x.wav"]) == 1
    err = one_line_error(capsys, "not an .npz archive")
    assert "pickle" not in err


# ----- resource bounds and values ------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["train", "--crops", "1000000000"], "--crops: expected a number of crops"),
    (["train", "--code-dim", "100000000"], "--code-dim: expected a code size"),
    (["cv", "--seed", "-1"], "--seed: expected an integer >= 0"),
    (["train", "--optimizer", "sgd", "--weight-decay", "0.1"], "adam only"),
])
def test_bad_values_are_refused_before_any_work(tmp_path, capsys, argv, message):
    assert main(argv) == 2
    one_line_error(capsys, message)
    assert not (tmp_path / "runs").exists()


def test_an_estimator_fit_on_nothing_leaves_the_model_usable(rng, tmp_path):
    x = rng.standard_normal((40, 12)).astype(np.float32)
    y = np.arange(40) % 2
    est = SoftmaxAutoencoder(epochs=1, code_dim=4, encoder_hidden=(8,)).fit(x, y)
    with pytest.raises(ValueError, match="0 sample"):
        est.fit(x[:0], y[:0])
    assert np.isfinite(est.predict_proba(x)).all()
    est.save(tmp_path / "e.npz")
    SoftmaxAutoencoder.load(tmp_path / "e.npz")


def test_version_and_short_synth_warning(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and f"numpy_sae {numpy_sae.__version__}" in capsys.readouterr().out
    assert main(["synth", str(tmp_path / "s"), "--genres", "pop,rock", "--clips", "1",
                 "--duration", "0.01"]) == 0
    assert "shorter than one window" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["cv", "baselines"])
def test_help_offers_no_option_the_command_refuses(command, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "--quick" not in capsys.readouterr().out


def test_unlabeled_audio_behind_links_is_found_once(tree, tmp_path):
    from numpy_sae.data.gtzan import find_audio
    library = tmp_path / "library"
    (library / "hidden" / ".git").mkdir(parents=True)
    (library / "hidden" / ".git" / "x.wav").write_bytes(b"")
    os.symlink(tree / "blues", library / "linked-blues")
    os.symlink(library, library / "hidden" / "back-up")  # a loop
    found = find_audio(library)
    assert sorted(p.name for p in found) == sorted(p.name for p in (tree / "blues").iterdir())


# ----- issue 20: no command replaces a file it did not create ------------------------------
def test_reconstruct_never_writes_onto_its_input_or_an_existing_file(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "base") == 0
    song = tmp_path / "song.wav"
    shutil.copy(tree / "blues" / "blues.00001.wav", song)
    before = song.read_bytes()
    assert main(["reconstruct", str(tmp_path / "base"), str(song), "--out", str(song)]) == 1
    one_line_error(capsys, "also an input")
    assert main(["reconstruct", str(tmp_path / "base"), str(song), "--out", str(song),
                 "--force"]) == 1  # not even when forced
    assert song.read_bytes() == before
    keep = tmp_path / "rec.original.wav"
    keep.write_bytes(b"mine")
    assert main(["reconstruct", str(tmp_path / "base"), str(song), "--out",
                 str(tmp_path / "rec.wav")]) == 1
    one_line_error(capsys, "rec.original.wav already exists", "--force")
    assert keep.read_bytes() == b"mine" and not (tmp_path / "rec.wav").exists()
    assert main(["reconstruct", str(tmp_path / "base"), str(song), "--out",
                 str(tmp_path / "rec.wav"), "--force"]) == 0
    capsys.readouterr()
    codes = tmp_path / "codes.csv"
    codes.write_text("precious")
    assert main(["encode", str(tmp_path / "base"), str(song), "--out", str(codes)]) == 1
    one_line_error(capsys, "codes.csv already exists")
    assert codes.read_text() == "precious"
    picture = tmp_path / "t.png"
    picture.write_bytes(b"mine")
    assert main(["predict", str(tmp_path / "base"), str(song), "--plot", str(picture)]) == 1
    assert picture.read_bytes() == b"mine"


def test_synth_refuses_to_replace_a_tree_it_did_not_write(tmp_path, capsys):
    real = tmp_path / "Data" / "genres_original" / "blues"
    real.mkdir(parents=True)
    (real / "blues.00000.wav").write_bytes(b"a real song")
    assert main(["synth", str(tmp_path / "Data"), "--clips", "1", "--duration", "1"]) == 1
    one_line_error(capsys, "was not written by numpy_sae's generator")
    assert (real / "blues.00000.wav").read_bytes() == b"a real song"
    # Its own output it may replace (same seed, same files).
    assert main(["synth", str(tmp_path / "s"), "--clips", "1", "--duration", "1",
                 "--genres", "blues"]) == 0
    assert main(["synth", str(tmp_path / "s"), "--clips", "1", "--duration", "1",
                 "--genres", "blues"]) == 0


def test_two_runs_never_share_a_folder(tree, tmp_path, monkeypatch):
    from numpy_sae.commands import job
    from numpy_sae.commands.outputs import new_folder

    class FrozenClock:
        @staticmethod
        def now():
            from datetime import datetime
            return datetime(2026, 1, 1, 12, 0, 0)
    monkeypatch.setattr(job, "datetime", FrozenClock)  # both runs get the same default name
    assert train(tree, tmp_path) == 0 and train(tree, tmp_path) == 0
    folders = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("20260101"))
    assert folders == ["20260101-120000-tree", "20260101-120000-tree-2"]
    # The folder is taken by mkdir itself: a name another run created a moment ago (after
    # any check) is never handed out twice.
    assert new_folder(tmp_path, "x", numbered=True).name == "x"
    assert new_folder(tmp_path, "x", numbered=True).name == "x-2"


@pytest.mark.parametrize("name", ["../..", "/tmp/elsewhere", "a/b", ".."])
def test_sweep_names_stay_inside_out(tmp_path, capsys, name):
    assert main(["sweep", "--name", name, "--out", str(tmp_path / "o"), "--epochs", "1"]) == 1
    one_line_error(capsys, "single folder name")


def test_ctrl_c_during_cv_is_one_line_and_exit_130(tree, capsys, monkeypatch):
    from numpy_sae import train as train_module

    def interrupted(self):
        raise KeyboardInterrupt
    monkeypatch.setattr(train_module.Trainer, "_train_one_epoch", interrupted)
    assert main(["cv", "--model", "joint", "--data", str(tree), "--genres", "blues,jazz", "--folds", "2"]) == 130
    assert "interrupted" in capsys.readouterr().err


def test_an_interrupted_sweep_keeps_the_folds_it_finished(tree, tmp_path, monkeypatch):
    from numpy_sae import train as train_module
    original = train_module.Trainer._train_one_epoch
    calls = []

    def third_fit_interrupted(self):
        if self.epoch == 0:
            calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self)
    monkeypatch.setattr(train_module.Trainer, "_train_one_epoch", third_fit_interrupted)
    assert main(["sweep", "--data", str(tree), "--genres", "blues,jazz", "--folds", "2",
                 "--epochs", "1", "--crops", "2", "--batch-size", "8", "--code-dims", "2,4",
                 "--out", str(tmp_path), "--name", "s"]) == 130
    folds = (tmp_path / "s" / "folds.csv").read_text().splitlines()
    summary = (tmp_path / "s" / "sweep.csv").read_text().splitlines()
    assert len(folds) == 1 + 2 and folds[1].startswith("2,1,")  # both folds of size 2
    assert len(summary) == 1 + 1 and summary[1].startswith("2,")


def test_au_and_wav_copies_of_one_song_count_once(tree, tmp_path):
    from numpy_sae.data.audio import read_wav
    from numpy_sae.data.gtzan import find_clips
    twin = tree / "blues" / "blues.00003.au"
    samples, rate = read_wav(tree / "blues" / "blues.00003.wav")
    samples = samples[:, 0]
    header = struct.pack(">4sIIIII", b".snd", 24, len(samples) * 2, 3, rate, 1)
    twin.write_bytes(header + (np.clip(samples, -1, 1) * 32767).astype(">i2").tobytes())
    with pytest.warns(UserWarning, match=r"blues.00003.au is another copy of blues.00003.wav"):
        _, files, _ = find_clips(tree, ["blues", "jazz"])
    names = [p.name for p, _ in files]
    assert "blues.00003.wav" in names and "blues.00003.au" not in names and len(names) == 12


def test_unlabeled_audio_never_includes_the_labeled_songs(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "same", "--unlabeled", str(tree)) == 1
    one_line_error(capsys, "every file under", "is a song of the labeled data")
    extra = tmp_path / "extra"
    extra.mkdir()
    song = tree / "jazz" / "jazz.00002.wav"
    shutil.copy(song, extra / "jazz.00002.wav")  # a copy under its own name
    # Round 5, W5: a copy under another name, a hard link and a lossless conversion to
    # .au were kept, so a test song trained the encoder.
    shutil.copy(song, extra / "copy of a song.wav")
    os.link(tree / "blues" / "blues.00001.wav", extra / "linked.wav")
    rate, samples = wavfile.read(song)
    header = struct.pack(">6I", 0x2E736E64, 24, 2 * len(samples), 3, rate, 1)
    (extra / "converted.au").write_bytes(header + samples.astype(">i2").tobytes())
    other = generate_dataset(tmp_path / "other", genres=("jazz",), clips_per_genre=1,
                             duration=2.0, seed=99)
    shutil.copy(next(other.rglob("*.wav")), extra / "another song.wav")
    assert train(tree, tmp_path, "--name", "mixed", "--unlabeled", str(extra)) == 0
    out = capsys.readouterr().out
    assert "left out 4 of the 5 unlabeled files" in out and "1 unlabeled clips" in out


def test_one_bad_file_is_named_and_the_batch_goes_on(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "base") == 0
    capsys.readouterr()
    good = tree / "blues" / "blues.00001.wav"
    rate1 = tmp_path / "rate1.wav"
    wavfile.write(rate1, 1, np.zeros(70_000, dtype=np.int16))  # 1 Hz: 19 hours if believed
    loud = tmp_path / "loud.wav"
    wavfile.write(loud, 22050, np.full(44100, 1e20, dtype=np.float32))
    assert main(["predict", str(tmp_path / "base"), str(rate1), str(loud), str(good)]) == 1
    out = capsys.readouterr()
    assert "rate1.wav: header gives a sample rate of 1 Hz" in out.err
    assert "loud.wav: samples reach 1e+20" in out.err and "Traceback" not in out.err
    assert "blues.00001.wav: " in out.out  # the good file after them is still classified
    assert main(["encode", str(tmp_path / "base"), str(rate1), str(good), "--out",
                 str(tmp_path / "c.npz")]) == 1
    assert (tmp_path / "c.npz").exists()


@pytest.mark.parametrize("change, message", [
    (lambda r: r["meta"]["job"].__setitem__("lr", "abc"), "setting lr is 'abc'"),
    (lambda r: r["meta"]["job"].__setitem__("genres", 5), "setting genres is 5"),
    (lambda r: r["meta"]["job"].__setitem__("checkpoint_every", 0), "checkpoint_every is 0"),
    (lambda r: r["trainer"].__setitem__("optimizer_t", -1), "optimizer_t is -1"),
    (lambda r: r["meta"].__setitem__("genre_names", ["blues", "blues"]), "repeats a name"),
])
def test_tampered_run_files_are_one_line_errors(tree, tmp_path, capsys, change, message):
    assert train(tree, tmp_path, "--name", "r") == 0
    capsys.readouterr()
    rewrite_record(tmp_path / "r" / "model.npz", change)
    assert main(["train", "--resume", str(tmp_path / "r"), "--epochs", "2"]) == 1
    one_line_error(capsys, message)


def test_evaluate_ignores_a_tampered_data_root(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "r") == 0
    rewrite_record(tmp_path / "r" / "model.npz", lambda r: r["meta"].__setitem__("data_root", 5))
    assert main(["evaluate", str(tmp_path / "r"), "--data", str(tree)]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_a_wav_with_a_stale_riff_size_is_read_whole(tmp_path):
    path = tmp_path / "stale.wav"
    wavfile.write(path, 22050, np.linspace(-0.5, 0.5, 4410).astype(np.float32))
    data = bytearray(path.read_bytes())
    data[4:8] = (len(data) + 5000).to_bytes(4, "little")  # RIFF size claims more than there is
    path.write_bytes(bytes(data))
    assert len(load_audio(path)) == 4410
    cut = tmp_path / "cut.wav"
    cut.write_bytes(bytes(data[:-400]))  # the data chunk itself is incomplete
    with pytest.raises(AudioError, match="truncated"):
        load_audio(cut)


def test_every_model_refuses_a_file_too_short_for_it(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "flog", "--model", "features-logistic") == 0
    one_sample = tmp_path / "one.wav"
    wavfile.write(one_sample, 22050, np.array([0.1], dtype=np.float32))
    assert main(["predict", str(tmp_path / "flog"), str(one_sample)]) == 1
    assert "one.wav: too short" in capsys.readouterr().err


def test_resume_notices_changed_unlabeled_audio(tree, tmp_path, capsys):
    extra = tmp_path / "extra"
    extra.mkdir()
    other_songs(extra, ["other-song.wav"])
    assert train(tree, tmp_path, "--name", "u", "--unlabeled", str(extra)) == 0
    other_songs(extra / "later", ["new-song.wav"], genre="blues")
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "u"), "--epochs", "2"]) == 1
    one_line_error(capsys, "the data changed", "unlabeled gained 1")


def test_a_full_disk_at_a_checkpoint_names_the_file(tree, tmp_path, capsys, monkeypatch):
    import errno

    from numpy_sae.audio_model import AudioModel

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(AudioModel, "save", full)
    assert train(tree, tmp_path, "--name", "full") == 1
    one_line_error(capsys, "cannot write", "full/model.npz", "No space left on device")


def test_train_checks_for_matplotlib_before_training(tree, tmp_path, capsys, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert train(tree, tmp_path, "--name", "nompl") == 1
    one_line_error(capsys, "matplotlib is not installed")
    assert not (tmp_path / "nompl").exists()


def test_an_explicit_name_is_claimed_by_one_run_only(tmp_path):
    from numpy_sae.commands.experiment import JobError
    from numpy_sae.commands.outputs import new_folder
    (tmp_path / "grid").mkdir()  # an empty folder made by hand may be used, once
    assert new_folder(tmp_path, "grid").name == "grid"
    with pytest.raises(JobError, match="already exists and is not empty"):
        new_folder(tmp_path, "grid")
