"""End-to-end: the numpy-sae command on a tiny synthetic tree (2 genres, 2 s clips)."""

import csv
import json
import re
import shutil

import numpy as np
import pytest

from conftest import finished, other_songs
from numpy_sae.commands.cli import main
from numpy_sae.data.synth import generate_dataset
from numpy_sae.modelfile import load_model_file

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
pytestmark = pytest.mark.usefixtures("isolated_command")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    generate_dataset(root, genres=("classical", "metal"), clips_per_genre=6, duration=2.0, seed=1)
    return root


def train(tree, out, *extra, figures=False):
    # 8 training songs x 3 random crops = 24 windows: 3 batches of 8 per epoch. Figures
    # (about a second per run) only where a test looks at them.
    return main(["train", "--model", "joint", "--data", str(tree), "--genres", "classical,metal", "--epochs", "2",
                 "--batch-size", "8", "--crops", "3", "--out", str(out), *extra,
                 *(() if figures else ("--no-figures",))])


def test_train_writes_a_complete_run_folder(tree, tmp_path, capsys):
    assert train(tree, tmp_path / "runs", "--name", "r1", figures=True) == 0
    run = tmp_path / "runs" / "r1"
    printed = capsys.readouterr().out
    assert "epoch 2/2" in printed and "chance level: 0.500" in printed and str(run) in printed
    for name in ("curves.png", "confusion.png", "pca.png", "reconstructions.png"):
        content = (run / name).read_bytes()
        assert content.startswith(PNG_MAGIC) and len(content) > 5000
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["genre_names"] == ["classical", "metal"] and metrics["chance"] == 0.5
    assert metrics["test"]["song"]["n"] == 2 and metrics["test"]["window"]["n"] == 4
    assert metrics["synthetic"] is False
    rows = list(csv.DictReader(open(run / "history.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"] and float(rows[1]["loss"]) > 0
    report = (run / "report.txt").read_text()
    assert "chance" in report and "test reconstruction R^2: autoencoder" in report
    assert set(metrics["reconstruction_r2"]["test"]) == {"autoencoder", "pca", "pca_components",
                                                            "code_dim"}
    assert -1 < float(rows[1]["val_r2"]) < 1
    model, meta, state = load_model_file(run / "model.npz")
    assert meta["genre_names"] == ["classical", "metal"] and state["epoch"] == 2
    x = np.random.default_rng(0).standard_normal((3, 500)).astype(np.float32)
    assert model.predict(x).shape == (3,)
    # --no-figures: the same run folder without its PNG files, and the log says so.
    assert train(tree, tmp_path / "runs", "--name", "r2") == 0
    *_, wrote, next_step = capsys.readouterr().out.strip().splitlines()
    assert wrote.startswith("wrote ") and ".png" not in wrote and "metrics.json" in wrote
    assert next_step.startswith(f"next: numpy-sae predict {tmp_path / 'runs' / 'r2'} ")
    assert not list((tmp_path / "runs" / "r2").glob("*.png"))
    assert (tmp_path / "runs" / "r2" / "report.txt").exists()


def test_a_collapsed_classifier_ends_the_run_with_a_warning(tree, tmp_path, capsys):
    # gamma 1 trains the reconstruction alone: the classifier keeps its random weights,
    # which on this data answer one genre for nearly every window.
    assert train(tree, tmp_path, "--name", "collapsed", "--gamma", "1", "--code-activation",
                 "tanh", "--decoder", "mirror") == 0
    warning = capsys.readouterr().out.strip().splitlines()[-2]  # before the next step
    assert warning.startswith("WARNING: the classifier collapsed") and "--gamma" in warning
    assert json.loads((tmp_path / "collapsed" / "metrics.json").read_text())["collapsed"]


def test_resume_continues_bit_for_bit(tree, tmp_path):
    assert train(tree, tmp_path, "--name", "straight", "--epochs", "4") == 0
    assert train(tree, tmp_path, "--name", "parted", "--epochs", "2") == 0
    assert main(["train", "--resume", str(tmp_path / "parted"), "--epochs", "4",
                 "--no-figures"]) == 0
    a, _, sa = load_model_file(tmp_path / "straight" / "model.npz")
    b, _, sb = load_model_file(tmp_path / "parted" / "model.npz")
    assert sa["epoch"] == sb["epoch"] == 4
    for k, v in a.parameters().items():
        np.testing.assert_array_equal(b.parameters()[k], v)
    assert sa["optimizer"].keys() == sb["optimizer"].keys()
    for k, v in sa["optimizer"].items():
        np.testing.assert_array_equal(sb["optimizer"][k], v)


def test_ctrl_c_saves_a_resumable_checkpoint(tree, tmp_path, monkeypatch, capsys):
    from numpy_sae.nn import optim
    original = optim.Adam.step
    calls = {"n": 0}

    def step(self, params, grads):
        calls["n"] += 1
        if calls["n"] == 5:  # in epoch 2 (3 batches per epoch)
            raise KeyboardInterrupt
        original(self, params, grads)
    monkeypatch.setattr(optim.Adam, "step", step)
    assert train(tree, tmp_path, "--name", "cut", "--epochs", "3") == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted: saved the state after epoch 1" in err[0]
    assert "--resume" in err[0]
    _, _, state = load_model_file(tmp_path / "cut" / "model.npz")
    assert state["epoch"] == 1


def test_predict_and_evaluate(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "m") == 0
    capsys.readouterr()
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    song = tree / "genres_original" / "metal" / "metal.00000.wav"
    assert main(["predict", str(tmp_path / "m"), str(song), str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{song}: ") and "2 windows" in captured.out
    assert captured.err.count("\n") == 1 and "broken.wav" in captured.err
    from scipy.io import wavfile
    wavfile.write(tmp_path / "short.wav", 22050, np.zeros(2000, dtype=np.int16))
    assert main(["predict", str(tmp_path / "m"), str(tmp_path / "short.wav")]) == 1
    assert "short.wav: too short" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "m" / "model.npz"), "--data", str(tree)]) == 0
    out = capsys.readouterr().out
    assert "all clips set, song level" in out and "include its training songs" in out


def test_study_and_segment_options(tree, tmp_path, capsys):
    assert main(["train", "--model", "joint", "--data", str(tree), "--genres", "classical,metal", "--study",
                 "--epochs", "1", "--split", "segment", "--out", str(tmp_path), "--name", "study",
                 "--no-figures"]) == 0
    out = capsys.readouterr().out
    assert "lr 0.0001, weight decay 0, patience off, gamma 0.9" in out
    assert "crops off (fixed grid)" in out
    assert "segment split puts windows of one song on both sides" in out
    assert main(["train", "--model", "joint", "--data", str(tree), "--genres", "classical,metal", "--split", "segment",
                 "--crops", "2", "--out", str(tmp_path), "--name", "bad"]) == 1
    assert "random crops need a song-level split" in capsys.readouterr().err


def test_spectrum_model_predicts_with_its_own_input(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "spec", "--input", "spectrum") == 0
    model, meta, _ = load_model_file(tmp_path / "spec" / "model.npz")
    assert meta["input"] == "spectrum" and model.input_dim == 251
    song = tree / "genres_original" / "classical" / "classical.00001.wav"
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "spec"), str(song)]) == 0
    assert "2 windows" in capsys.readouterr().out


def test_synth_command(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "s"), "--genres", "pop,jazz", "--clips", "2",
                 "--duration", "1"]) == 0
    assert len(list((tmp_path / "s" / "genres_original").rglob("*.wav"))) == 4


@pytest.mark.parametrize("argv, needle", [
    (["train", "--epochs", "-3"], "--epochs: expected a number of epochs from 1 to 10000000, got '-3'"),
    (["train", "--gamma", "2"], "--gamma: expected a number in [0, 1], got '2'"),
    (["train", "--lr", "nan"], "--lr: expected a learning rate in (0, 1000], got 'nan'"),
    (["train", "--data", "DATA", "--genres", "classical,polka"], "polka not found"),
    (["train", "--data", "/no/such/folder"], "data folder not found: /no/such/folder"),
    (["train", "--data", "EMPTY", "--genres", "all"], "no genre folders"),
    (["train", "--fractions", "0.5,0.6,0.1"], "--fractions"),
    (["predict", "missing.npz", "x.wav"], "model file not found: missing.npz"),
    (["evaluate", "m.npz"], "the following arguments are required: --data"),
    (["gradcheck", "--break", "nonsense"], "invalid choice: 'nonsense'"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_values_give_one_line_and_no_traceback(argv, needle, tree, tmp_path, capsys):
    (tmp_path / "EMPTY").mkdir()
    argv = [str(tree) if a == "DATA" else str(tmp_path / "EMPTY") if a == "EMPTY" else a
            for a in argv]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_corrupt_file_in_tree_is_skipped_and_named(tree, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)
    (copy / "genres_original" / "metal" / "metal.00054.wav").write_bytes(b"RIFF")
    assert train(copy, tmp_path, "--name", "skip", "--no-cache") == 0
    captured = capsys.readouterr()
    assert "metal.00054.wav" in captured.err and "skipped 1 of 13 files" in captured.out
    metrics = json.loads((tmp_path / "skip" / "metrics.json").read_text())
    assert metrics["skipped_files"][0][0] == "metal/metal.00054.wav"


def test_run_folder_is_never_overwritten(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "same") == 0
    assert train(tree, tmp_path, "--name", "same") == 1
    err = capsys.readouterr().err
    assert "already exists and is not empty" in err and "--resume" in err


def test_sigterm_saves_like_ctrl_c(tree, tmp_path, monkeypatch, capsys):
    import os
    import signal

    from numpy_sae.nn import optim
    original = optim.Adam.step
    calls = {"n": 0}

    def step(self, params, grads):
        calls["n"] += 1
        if calls["n"] == 4:
            os.kill(os.getpid(), signal.SIGTERM)
        original(self, params, grads)
    monkeypatch.setattr(optim.Adam, "step", step)
    assert train(tree, tmp_path, "--name", "term", "--epochs", "3") == 130
    assert "interrupted: saved the state after epoch 1" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_predict_needs_a_model_with_audio_settings(tmp_path, capsys):
    from numpy_sae import SoftmaxAutoencoder
    rng = np.random.default_rng(0)
    fitted = SoftmaxAutoencoder(epochs=1).fit(rng.standard_normal((8, 500)), np.arange(8) % 2)
    fitted.save(tmp_path / "bare.npz")  # weights only, no audio meta
    assert main(["predict", str(tmp_path / "bare.npz"), "x.wav"]) == 1
    err = capsys.readouterr().err
    assert "bare.npz: has no usable audio settings" in err and "Traceback" not in err
    fitted.save(tmp_path / "odd.npz", meta={
        "genre_names": ["a", "b", "c"], "preprocessing": {}, "input": "waveform"})
    assert main(["predict", str(tmp_path / "odd.npz"), "x.wav"]) == 1
    assert "3 genres, 500 inputs) do not match the network (2 classes" in capsys.readouterr().err


def test_unlabeled_audio_trains_the_reconstruction_only(tree, tmp_path, capsys):
    unlabeled = tmp_path / "unlabeled" / "any" / "depth"
    unlabeled.mkdir(parents=True)
    other_songs(unlabeled, ["metal-live.wav", "classical-take.wav"])
    (unlabeled / "notes.txt").write_text("not audio")
    assert train(tree, tmp_path, "--name", "u", "--unlabeled", str(tmp_path / "unlabeled")) == 0
    assert "2 unlabeled clips from" in capsys.readouterr().out
    assert main(["cv", "--model", "joint", "--data", str(tree), "--genres", "classical,metal", "--epochs", "1",
                 "--batch-size", "8", "--crops", "2", "--folds", "2",
                 "--unlabeled", str(tmp_path / "unlabeled")]) == 0
    assert main(["train", "--model", "joint", "--data", str(tree), "--genres", "classical,metal",
                 "--unlabeled", str(tmp_path / "nowhere")]) == 1
    assert "folder of unlabeled audio not found" in capsys.readouterr().err


def test_encode_and_reconstruct_round_trip(tree, tmp_path, capsys):
    from scipy.io import wavfile

    from numpy_sae.audio_model import AudioModel
    from numpy_sae.data.audio import frame
    assert train(tree, tmp_path, "--name", "e") == 0
    model, _, _ = AudioModel.load(tmp_path / "e" / "model.npz")
    songs = tree / "genres_original" / "metal"
    assert main(["encode", str(tmp_path / "e"), str(songs), "--out", str(tmp_path / "c.npz")]) == 0
    with np.load(tmp_path / "c.npz") as codes:
        files = codes["files"].tolist()
        assert len(files) == 6 and files[0].endswith("metal.00000.wav")
        first = model.network.encode(model.file_windows(files[0]))
        np.testing.assert_allclose(codes["codes"][codes["window_file"] == 0], first)
        np.testing.assert_allclose(codes["file_codes"][0], first.mean(axis=0), rtol=1e-6)
        assert codes["codes"].shape[1] == 64
    song = songs / "metal.00002.wav"
    assert main(["encode", str(tmp_path / "e"), str(song), "--out", str(tmp_path / "c.csv")]) == 0
    rows = list(csv.reader(open(tmp_path / "c.csv")))
    assert rows[0][:3] == ["file", "window", "code_0"] and rows[-1][1] == "mean"
    assert len(rows) == 1 + len(first) + 1

    assert main(["reconstruct", str(tmp_path / "e"), str(song), "--out",
                 str(tmp_path / "rec.wav")]) == 0
    assert "reconstruction R^2 of this song" in capsys.readouterr().out
    rate, decoded = wavfile.read(tmp_path / "rec.wav")
    _, original = wavfile.read(tmp_path / "rec.original.wav")
    assert rate == 551 and decoded.dtype == np.float32 and decoded.shape == original.shape
    windows = frame(model.file_signal(song), 500)
    np.testing.assert_array_equal(original, windows.reshape(-1))
    np.testing.assert_allclose(decoded, model.network.reconstruct(windows).reshape(-1), rtol=1e-6)

    assert main(["encode", str(tmp_path / "e"), str(song), "--out", str(tmp_path / "c.txt")]) == 1
    assert "--out must end in .npz or .csv" in capsys.readouterr().err
    assert main(["encode", str(tmp_path / "e"), str(tmp_path / "missing.au"), str(song),
                 "--out", str(tmp_path / "d.npz")]) == 1  # one bad file, the others go on
    assert "missing.au" in capsys.readouterr().err and (tmp_path / "d.npz").exists()


def test_sweep_writes_a_table_and_a_figure(tree, tmp_path, capsys):
    assert main(["sweep", "--data", str(tree), "--genres", "classical,metal", "--epochs", "1",
                 "--batch-size", "8", "--crops", "2", "--folds", "2", "--code-dims", "2,4",
                 "--out", str(tmp_path), "--name", "s"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "s" / "sweep.csv")))
    assert [r["code_dim"] for r in rows] == ["2", "4"]
    assert all(-1 < float(r["r2_pca_mean"]) <= 1 for r in rows)
    assert (tmp_path / "s" / "sweep.png").read_bytes().startswith(PNG_MAGIC)
    assert "| 4 |" in (tmp_path / "s" / "sweep.md").read_text()
    assert main(["sweep", "--code-dims", "0,4"]) == 2


def test_the_fault_filtered_split_end_to_end(tmp_path, capsys):
    from scipy.io import wavfile

    from numpy_sae.data.splits import filtered_lists
    listed = [e for part in filtered_lists() for e in part
              if e.split("/")[0] in ("classical", "metal")]
    rng = np.random.default_rng(0)
    root = tmp_path / "gtzan" / "genres_original"
    for entry in listed[1:]:  # the first listed clip is missing
        (root / entry).parent.mkdir(parents=True, exist_ok=True)
        wavfile.write(root / entry, 22050, (rng.standard_normal(22050) * 3000).astype(np.int16))
    (root / "metal" / "metal.99999.wav").write_bytes((root / listed[-1]).read_bytes())  # unlisted
    assert main(["train", "--model", "joint", "--data", str(tmp_path / "gtzan"), "--genres", "classical,metal",
                 "--split", "filtered", "--epochs", "1", "--crops", "2", "--out", str(tmp_path),
                 "--name", "f", "--no-figures"]) == 0
    out = capsys.readouterr()
    assert "1 clip(s) of the fault-filtered split are missing" in out.err
    assert "(split: filtered)" in out.out
    metrics = json.loads((tmp_path / "f" / "metrics.json").read_text())
    assert metrics["split_missing"] == [listed[0]]
    n_test = sum(e.split("/")[0] in ("classical", "metal") for e in filtered_lists()[2])
    assert metrics["test"]["song"]["n"] == n_test - (listed[0] in filtered_lists()[2])


def test_the_filtered_split_refuses_a_small_tree(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "x", "--split", "filtered") == 1
    assert "not a full GTZAN tree; use --split song" in capsys.readouterr().err


def test_predict_plots_a_genre_timeline(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "p") == 0
    songs = [str(tree / "genres_original" / "metal" / f"metal.0000{i}.wav") for i in (0, 1)]
    assert main(["predict", str(tmp_path / "p"), songs[0], "--plot",
                 str(tmp_path / "pics" / "timeline.png")]) == 0
    assert (tmp_path / "pics" / "timeline.png").read_bytes().startswith(PNG_MAGIC)
    assert main(["predict", str(tmp_path / "p"), *songs, "--plot", str(tmp_path / "t.png")]) == 0
    assert (tmp_path / "t-01-metal.00001.png").read_bytes().startswith(PNG_MAGIC)
    assert main(["predict", str(tmp_path / "p"), songs[0], "--plot", str(tmp_path / "t.jpg")]) == 1
    assert "--plot must name a .png file" in capsys.readouterr().err


@pytest.mark.parametrize("model, network", [("features-logistic", "LogisticRegression"),
                                            ("features-mlp", "SoftmaxClassifier"),
                                            ("mlp", "SoftmaxClassifier")])
def test_other_models_train_predict_and_evaluate(tree, tmp_path, capsys, model, network):
    # The figures once: a model without a decoder draws no reconstructions.
    figures = model == "features-logistic"
    assert train(tree, tmp_path, "--name", "m", "--model", model, figures=figures) == 0
    out = capsys.readouterr().out
    assert f"({network})" in out and "test set, song level" in out
    loaded, meta, _ = load_model_file(tmp_path / "m" / "model.npz")
    assert type(loaded).__name__ == network
    assert meta["input"] == ("descriptors" if model.startswith("features") else "waveform")
    if figures:
        assert (tmp_path / "m" / "confusion.png").exists()
        assert not (tmp_path / "m" / "reconstructions.png").exists()
    song = str(tree / "genres_original" / "metal" / "metal.00000.wav")
    assert main(["predict", str(tmp_path / "m"), song, "--plot", str(tmp_path / "t.png")]) == 0
    assert (tmp_path / "t.png").read_bytes().startswith(PNG_MAGIC)
    assert main(["evaluate", str(tmp_path / "m"), "--data", str(tree)]) == 0
    assert "all clips set, song level" in capsys.readouterr().out
    assert main(["cv", "--model", "joint", "--data", str(tree), "--genres", "classical,metal", "--epochs", "1",
                 "--folds", "2", "--model", model]) == 0


def test_models_that_do_not_fit_a_command(tree, tmp_path, capsys):
    assert main(["sweep", "--model", "features-mlp"]) == 2
    assert main(["baselines", "--model", "mlp"]) == 2
    assert train(tree, tmp_path, "--name", "u", "--model", "mlp", "--unlabeled", str(tree)) == 1
    assert "has none" in capsys.readouterr().err


def test_headers_name_only_the_settings_of_the_chosen_model(tree, tmp_path, capsys):
    assert main(["cv", "--model", "joint", "--data", str(tree), "--genres", "classical,metal", "--model",
                 "features-logistic", "--epochs", "1", "--folds", "2"]) == 0
    header = next(line for line in capsys.readouterr().out.splitlines() if "cross-validation" in line)
    assert "model features-logistic: epochs 1, batch size 64" in header
    assert not any(word in header for word in ("gamma", "input", "crops", "code dim", "factor"))
    assert train(tree, tmp_path, "--name", "flog", "--model", "features-logistic") == 0
    report = (tmp_path / "flog" / "report.txt").read_text()
    assert "model features-logistic: epochs" in report and "gamma" not in report
    metrics = json.loads((tmp_path / "flog" / "metrics.json").read_text())
    assert metrics["model"] == "features-logistic" and "gamma" not in metrics["settings"]
    assert train(tree, tmp_path, "--name", "joint") == 0
    settings = json.loads((tmp_path / "joint" / "metrics.json").read_text())["settings"]
    assert settings["gamma"] == 0.03 and settings["crops"] == 3


SEGMENT = ("--model", "segment", "--window", "256", "--segment-seconds", "0.5", "--crops", "2",
           "--batch-size", "8")


def test_the_segment_model_end_to_end(tree, tmp_path, capsys):
    # 256-sample frames, hop 128: 0.5 s segments of 85 frames (11,008 samples); a 2 s clip
    # holds 4 of them.
    assert train(tree, tmp_path, "--name", "seg", *SEGMENT, figures=True) == 0
    out = capsys.readouterr().out
    assert "SegmentAutoencoderNetwork" in out and "hop half a window, segment seconds 0.5" in out
    run = tmp_path / "seg"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["settings"]["window"] == 256 and "decoder" not in metrics["settings"]
    assert (run / "reconstructions.png").exists() and (run / "pca.png").exists()
    model, meta, _ = load_model_file(run / "model.npz")
    assert type(model).__name__ == "SegmentAutoencoderNetwork"
    assert meta["preprocessing"]["segment_frames"] == 85 and meta["input"] == "spectrum"

    song = tree / "genres_original" / "metal" / "metal.00001.wav"
    assert main(["predict", str(run), str(song), "--plot", str(tmp_path / "t.png")]) == 0
    printed = capsys.readouterr().out
    assert "4 segments)" in printed and "timeline" in printed
    assert main(["evaluate", str(run), "--data", str(tree)]) == 0
    assert "all clips set, song level" in capsys.readouterr().out

    assert main(["encode", str(run), str(song), "--out", str(tmp_path / "c.npz")]) == 0
    with np.load(tmp_path / "c.npz") as codes:
        assert codes["codes"].shape == (4 * 85, 64)          # every frame's code
        assert codes["segment_codes"].shape == (4, 128)      # every segment's mean and std
    # A spectrum cannot be turned back into sound; a waveform segment model can.
    assert main(["reconstruct", str(run), str(song), "--out", str(tmp_path / "r.wav")]) == 1
    assert train(tree, tmp_path, "--name", "segwave", *SEGMENT, "--input", "waveform",
                 "--pooling", "meanlogstd") == 0
    assert load_model_file(tmp_path / "segwave" / "model.npz")[0].pooling == "meanlogstd"
    assert main(["reconstruct", str(tmp_path / "segwave"), str(song), "--out",
                 str(tmp_path / "r.wav")]) == 0
    from scipy.io import wavfile

    from numpy_sae.audio_model import AudioModel
    rate, decoded = wavfile.read(tmp_path / "r.wav")
    _, original = wavfile.read(tmp_path / "r.original.wav")
    assert rate == 22050 and decoded.shape == original.shape == (4 * (84 * 128 + 256),)
    # Frames cut from one signal and added back with their weights give that signal again.
    model, _, _ = AudioModel.load(tmp_path / "segwave" / "model.npz")
    np.testing.assert_allclose(original, model.file_signal(song)[:len(original)], atol=1e-6)


def test_segment_model_in_cv_and_sweep(tree, capsys):
    assert main(["cv", "--model", "joint", "--data", str(tree), "--genres", "classical,metal", "--epochs", "1",
                 "--folds", "2", *SEGMENT]) == 0
    out = capsys.readouterr().out
    assert "fold 2/2: segment" in out and "R^2 autoencoder" in out
    assert main(["sweep", "--data", str(tree), "--genres", "classical,metal", "--epochs", "1",
                 "--folds", "2", "--code-dims", "2", "--name", "segsweep", *SEGMENT]) == 0
    assert "| 2 |" in capsys.readouterr().out
    assert main(["cv", "--model", "joint", "--data", str(tree), "--model", "segment", "--study"]) == 2
    assert "--study reproduces the study's joint model" in capsys.readouterr().err


def test_the_segment_model_learns_from_unlabeled_segments(tree, tmp_path, capsys):
    extra = tmp_path / "extra"
    extra.mkdir()
    other_songs(extra, ["live-take.wav"], genre="metal")
    assert train(tree, tmp_path, "--name", "su", *SEGMENT, "--unlabeled", str(extra)) == 0
    assert "1 unlabeled clips" in capsys.readouterr().out
    assert train(tree, tmp_path, "--name", "su0", *SEGMENT, "--unlabeled", str(extra),
                 "--crops", "0") == 1
    assert "use --crops N" in capsys.readouterr().err


def test_segment_model_validates_over_several_chunks_in_every_command(tree, tmp_path, capsys,
                                                                      monkeypatch):
    # With chunks of 256 frames a chunk holds 3 segments of 85 frames, so every validation
    # set here spans several chunks, as a full dataset's does with the real chunk size.
    import numpy_sae.nn.network as network_module
    monkeypatch.setattr(network_module, "_CHUNK", 256)
    assert train(tree, tmp_path, "--name", "segval", *SEGMENT, "--patience", "1") == 0
    assert "val_acc" in capsys.readouterr().out
    assert main(["cv", "--model", "joint", "--data", str(tree), "--genres", "classical,metal", "--epochs", "2",
                 "--folds", "3", "--patience", "1", *SEGMENT]) == 0
    assert "fold 3/3: segment" in capsys.readouterr().out
    # Two folds would leave nothing to train on once one validates: said in one line.
    assert main(["cv", "--model", "joint", "--data", str(tree), "--genres", "classical,metal", "--folds", "2",
                 "--patience", "1", *SEGMENT]) == 2
    assert "needs --folds 3 or more" in capsys.readouterr().err
    assert main(["baselines", "--data", str(tree), "--genres", "classical,metal", "--epochs", "1",
                 "--patience", "1", *SEGMENT]) == 0
    table = capsys.readouterr().out
    assert "descriptors + 2-layer classifier" in table and "| test segment accuracy |" in table
    assert "segments) |" in table and "windows) |" not in table


def test_segment_model_on_the_default_synthetic_data():
    # What a user types first: the default data (400 synthetic 30 s clips), whose
    # validation set of 600 segments spans five inference chunks. The command runs as a
    # subprocess started with the session (conftest.py), in a folder of its own;
    # --no-cache: the test's own cache would be a 1 GB file written for nothing.
    # No --model: the default main job trains the segment model, and says so first.
    status, out, work = finished("segment")
    assert status == 0, out
    lines = out.splitlines()
    assert lines[0].startswith("model: segment (log spectra") and "--model joint" in lines[0]
    assert "SYNTHETIC DATA" in out
    # Progress with the time left: generating the clips, then each epoch but the last.
    assert re.search(r"generating: \d+ of 400 clips \(\d+%\), about \d+", out), out
    assert re.search(r"epoch 1/2 .* \(about \d+ (s|min)", out), out
    assert "segments: train 2800, validation 600, test 600" in out
    assert "epoch 2/2" in out and "val_acc" in out
    run = work / "segment" / "runs" / "first"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["validation"]["window"]["n"] == 600 and metrics["test"]["song"]["n"] == 60
    assert metrics["model"] == "segment" and 0.25 < metrics["test"]["song"]["accuracy"] <= 1
    report = (run / "report.txt").read_text().splitlines()
    assert report[1].startswith("model: segment") and "0.917" in report[1]
    assert lines[-1].startswith("next: numpy-sae predict runs/first ")


FRONT = ("--input", "waveform", "--front-end", "filterbank", "--front-filters", "16")


def test_the_filterbank_front_end_in_every_command(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "fb", *SEGMENT, *FRONT, "--front-init", "fourier",
                 "--front-anchor", "0.1", figures=True) == 0
    out = capsys.readouterr().out
    assert "front end filterbank, front init fourier, front filters 16" in out
    assert "the filters moved ||W - W0|| / ||W0|| = " in out
    run = tmp_path / "fb"
    assert (run / "filters.png").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 < metrics["front_end_drift"] < 1
    model, meta, _ = load_model_file(run / "model.npz")
    assert model.front_end == {"filters": 16, "init": "fourier", "learning": "free",
                               "anchor": 0.1, "sample_rate": 22050.0}
    assert model.front.drift() == pytest.approx(metrics["front_end_drift"], rel=1e-5)
    song = tree / "genres_original" / "metal" / "metal.00001.wav"
    assert main(["predict", str(run), str(song)]) == 0
    assert "4 segments)" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--data", str(tree)]) == 0
    assert main(["encode", str(run), str(song), "--out", str(tmp_path / "c.npz")]) == 0
    with np.load(tmp_path / "c.npz") as codes:
        assert codes["segment_codes"].shape == (4, 128)
    assert main(["reconstruct", str(run), str(song), "--out", str(tmp_path / "r.wav")]) == 1
    assert "log band energies" in capsys.readouterr().err
    for learning in ("parametric", "frozen"):
        assert train(tree, tmp_path, "--name", f"fb-{learning}", *SEGMENT, *FRONT,
                     "--front-learning", learning) == 0
        loaded = load_model_file(tmp_path / f"fb-{learning}" / "model.npz")[0]
        assert loaded.front_end["learning"] == learning
    frozen = load_model_file(tmp_path / "fb-frozen" / "model.npz")[0]
    assert frozen.front.drift() == 0.0 and not any(k.startswith("front.")
                                                   for k in frozen.parameters())
    assert main(["cv", "--model", "joint", "--data", str(tree), "--genres", "classical,metal", "--epochs", "1",
                 "--folds", "2", *SEGMENT, *FRONT, "--front-init", "random"]) == 0
    assert main(["baselines", "--data", str(tree), "--genres", "classical,metal", "--epochs", "1",
                 *SEGMENT, *FRONT]) == 0
    assert main(["sweep", "--data", str(tree), "--genres", "classical,metal", "--epochs", "1",
                 "--folds", "2", "--code-dims", "2", "--name", "fbsweep", *SEGMENT, *FRONT]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("argv, message", [
    (("--front-end", "filterbank"), "reads the waveform: use --input waveform"),
    (("--input", "waveform", "--front-init", "mel"), "add --front-end filterbank"),
    (("--input", "waveform", "--front-end", "filterbank", "--front-filters", "200"),
     "more than the 129 frequencies"),
])
def test_filterbank_options_that_cannot_work_are_named(tree, tmp_path, capsys, argv, message):
    assert train(tree, tmp_path, "--name", "bad", *SEGMENT, *argv) in (1, 2)
    assert message in capsys.readouterr().err
    assert not (tmp_path / "bad" / "model.npz").exists()


def test_an_option_the_model_ignores_is_named(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "w", "--gain-db", "6") == 0
    assert "--gain-db is not used by --model joint: ignored" in capsys.readouterr().err


def test_cv_ensembles_and_reports_song_rules_and_calibration(tree, capsys):
    assert main(["cv", "--model", "joint", "--data", str(tree), "--genres", "classical,metal", "--epochs", "1",
                 "--folds", "2", "--ensemble", "2", "--gain-db", "6", *SEGMENT]) == 0
    out = capsys.readouterr().out
    assert "songs by mean log-probability" in out and "calibration error (ECE)" in out
    assert "gain db 6" in out
    # Round 5, W8: the settings name the ensemble, and R^2 is the members' mean.
    assert "an ensemble of 2 networks per fold" in out
    assert out.count("(mean of 2 members)") == 2


def test_the_filterbank_can_wait_frozen_then_learn_slowly(tree, tmp_path, capsys):
    for warmup, moved in (("2", False), ("1", True)):
        assert train(tree, tmp_path, "--name", f"warm{warmup}", *SEGMENT, *FRONT,
                     "--front-warmup", warmup, "--front-lr-scale", "0.1") == 0
        drift = json.loads((tmp_path / f"warm{warmup}" / "metrics.json").read_text())[
            "front_end_drift"]
        assert (drift > 0) == moved
    assert "front warmup 1, front lr scale 0.1" in capsys.readouterr().out


@pytest.mark.parametrize("options, message", [
    (("--front-learning", "frozen", "--front-anchor", "5", "--front-warmup", "3",
      "--front-lr-scale", "0.1"), "--front-anchor, --front-warmup, --front-lr-scale have no "
                                  "effect with --front-learning frozen"),
    (("--front-warmup", "10", "--epochs", "3"), "keeps it frozen for all 3 epochs"),
    (("--front-lr-scale", "0",), "--front-lr-scale 0 gives it no learning rate"),
])
def test_filterbank_options_that_cannot_take_effect_are_named(options, message, capsys):
    # Round 5, W6: they were accepted silently and the settings line said they applied.
    from numpy_sae.commands.cli import _run_settings, build_parser
    with pytest.warns(UserWarning, match=re.escape(message)):
        _run_settings(build_parser().parse_args(["train", *SEGMENT, *FRONT, *options]))


def test_sweep_names_segments_and_pca_is_capped_at_the_inputs_width(tree, tmp_path):
    # Round 5, U10: a segment model's sweep said "window accuracy"; U11: PCA was "64
    # components" of a 4-dim input.
    assert main(["sweep", "--data", str(tree), "--genres", "classical,metal", "--epochs", "1",
                 "--folds", "2", "--code-dims", "2", "--out", str(tmp_path), "--name", "s",
                 *SEGMENT]) == 0
    assert "| segment accuracy |" in (tmp_path / "s" / "sweep.md").read_text()
    from numpy_sae.commands.report import reconstruction_lines
    from numpy_sae.encodings import reconstruction_r2
    from numpy_sae.nn.model import SoftmaxAutoencoderNetwork
    network = SoftmaxAutoencoderNetwork(input_dim=4, n_classes=2, code_dim=8,
                                        encoder_hidden=(6,), seed=0)
    x = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    network.fit_scaling(x)
    scores = reconstruction_r2(network, x, x)
    assert scores["pca_components"] == 4 and scores["code_dim"] == 8
    line, = reconstruction_lines({"test": scores})
    assert "PCA with 4 components" in line and "PCA keeps all of it" in line
