"""Round 4 of hostile use (shared/audits/reliability-round4.md): outputs claimed when they
are written, resumes that lock their run, segment geometry named in the user's options,
inputs that are not regular files, and no NaN written as audio."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from numpy_sae.commands.cli import main
from numpy_sae.commands.experiment import JobError
from numpy_sae.commands.outputs import LOCK, written_output
from numpy_sae.data.synth import generate_dataset

pytestmark = pytest.mark.usefixtures("isolated_command")
SEGMENT = ("--model", "segment", "--window", "256", "--segment-seconds", "0.5", "--crops", "2",
           "--batch-size", "8")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("r4")
    return generate_dataset(root, genres=("blues", "jazz"), clips_per_genre=6, duration=2.0,
                            seed=4)


@pytest.fixture(scope="module")
def joint_run(tree, tmp_path_factory):
    """One trained joint model (its run folder), shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("joint")
    cache = tmp_path_factory.mktemp("cache")
    assert main(["train", "--model", "joint", "--data", str(tree), "--genres", "blues,jazz", "--epochs", "1",
                 "--out", str(out), "--name", "m", "--cache-dir", str(cache),
                 "--no-figures"]) == 0
    return out / "m"


def train(tree, out, *extra):
    # No figures (about a second per run): no test here looks at them.
    return main(["train", "--model", "joint", "--data", str(tree), "--genres", "blues,jazz", "--epochs", "1",
                 "--out", str(out), *extra, "--no-figures"])


def one_line_error(capsys, *needles):
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(n in err for n in needles), err
    return err


# ----- L1, L3, L4: one way to write an output ---------------------------------------------
def test_an_output_written_meanwhile_by_another_command_is_not_replaced(tmp_path):
    out = tmp_path / "codes.csv"
    with pytest.raises(JobError, match="another command wrote it meanwhile"):
        with written_output(out) as tmp:
            tmp.write_text("mine")
            out.write_text("theirs")  # the other command finished first
    assert out.read_text() == "theirs" and os.listdir(tmp_path) == ["codes.csv"]


def test_a_failed_write_leaves_nothing_and_blocks_no_rerun(tmp_path):
    out = tmp_path / "sub" / "r.json"
    with pytest.raises(JobError, match=r"cannot write .*r\.json: No space left on device"):
        with written_output(out) as tmp:
            tmp.write_text("half")
            raise OSError(28, "No space left on device")
    assert not out.exists() and os.listdir(tmp_path / "sub") == []
    with written_output(out) as tmp:
        tmp.write_text("whole")
    assert out.read_text() == "whole"


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges there")
def test_force_replaces_a_link_never_its_target(tmp_path):
    precious = tmp_path / "precious.wav"
    precious.write_text("keep me")
    link = tmp_path / "rec.wav"
    link.symlink_to(precious)
    with written_output(link, force=True) as tmp:
        tmp.write_text("decoded")
    assert precious.read_text() == "keep me"
    assert not link.is_symlink() and link.read_text() == "decoded"


def test_reconstruct_writes_no_nan_audio(tree, tmp_path, capsys, monkeypatch):
    assert train(tree, tmp_path, "--name", "w", *SEGMENT, "--input", "waveform") == 0
    from numpy_sae.nn.model import SegmentAutoencoderNetwork
    monkeypatch.setattr(SegmentAutoencoderNetwork, "reconstruct",
                        lambda self, x: np.full(x.shape, np.nan, np.float32))
    song = tree / "jazz" / "jazz.00001.wav"
    assert main(["reconstruct", str(tmp_path / "w"), str(song), "--out",
                 str(tmp_path / "r.wav")]) == 1
    one_line_error(capsys, "holds NaN or inf samples", "nothing written")
    assert not (tmp_path / "r.wav").exists() and not (tmp_path / "r.original.wav").exists()


# ----- W1, W3, U4: the segment geometry, in the user's words ------------------------------
@pytest.mark.parametrize("argv, message", [
    (("--hop", "512"), "--hop 512 is longer than --window 256"),
    (("--segment-seconds", "1e-9"), "--segment-seconds 1e-09 is shorter than one frame"),
    (("--factor", "40", "--window", "2048"), "at 551.25 Hz = 3.72 s"),
    (("--hop", "1", "--segment-seconds", "600"), "frames per segment; at most 100,000"),
])
def test_segments_that_cannot_work_are_named_in_the_users_options(tree, tmp_path, capsys, argv,
                                                                    message):
    assert train(tree, tmp_path, "--name", "g", *SEGMENT, *argv) == 1
    one_line_error(capsys, message)
    assert not (tmp_path / "g").exists()


# ----- L2, U5: resumes ------------------------------------------------------------------
def test_a_run_being_trained_cannot_be_resumed_twice(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "cc") == 0
    run = tmp_path / "cc"
    (run / LOCK).write_text(str(os.getpid()))  # a live command holds it
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 1
    one_line_error(capsys, "is being trained by another command")
    (run / LOCK).write_text("999999999")  # a killed command's lock is taken over
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-figures"]) == 0
    assert not (run / LOCK).exists()
    assert main(["train", "--resume", str(run), "--epochs", "1"]) == 1
    one_line_error(capsys, "has run 2 epochs already; --epochs 1 must be more")


# ----- C6, U10: what is not an audio file -----------------------------------------------
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_skipped_and_a_folder_stands_for_its_files(tree, tmp_path, capsys):
    assert train(tree, tmp_path, "--name", "p") == 0
    capsys.readouterr()
    fifo = tmp_path / "stream.wav"
    os.mkfifo(fifo)
    folder = tree / "jazz"
    assert main(["predict", str(tmp_path / "p"), str(fifo), str(folder)]) == 1
    captured = capsys.readouterr()
    assert "stream.wav: not a regular file" in captured.err
    assert captured.out.count("jazz.0000") == 6  # every song of the folder


# ----- U1, U2: the grader always leaves a result -------------------------------------
def test_a_student_file_that_does_not_import_still_gets_a_results_file(tmp_path, capsys):
    student = tmp_path / "hw"
    assert main(["exercises", "init", str(student)]) == 0
    (student / "backprop.py").write_text("def dense_forward(:\n")
    capsys.readouterr()
    results = tmp_path / "not" / "yet" / "results.json"
    assert main(["exercises", "check", str(student), "--results", str(results), "--json"]) == 1
    written = json.loads(results.read_text())
    assert written["score"] == 0 and "does not import" in written["output"]
    out = json.loads(capsys.readouterr().out)
    assert out["score"] == 0 and "SyntaxError" in out["error"]


def test_results_into_a_folder_is_refused_before_grading(tmp_path, capsys):
    student = tmp_path / "hw"
    main(["exercises", "key", str(student)])
    assert main(["exercises", "check", str(student), "--results", str(tmp_path), "--force"]) == 1
    one_line_error(capsys, "is a folder; name the results.json file")


# ----- W8: one segment is drawn ----------------------------------------------------------
def test_a_timeline_of_one_window_is_drawn_across_the_picture(tmp_path):
    from matplotlib.image import imread

    from numpy_sae import plots
    plots.plot_timeline(np.array([[0.7, 0.3]]), ["blues", "jazz"], 3.0, "one", tmp_path / "t.png")
    pixels = imread(tmp_path / "t.png")[..., :3]
    colored = np.mean(np.ptp(pixels, axis=2) > 0.2)  # saturated, not grey or white
    assert colored > 0.2


def test_a_missing_submission_still_gets_a_results_file(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    results = tmp_path / "results.json"
    assert main(["exercises", "check", str(tmp_path / "empty"), "--results", str(results)]) == 1
    assert json.loads(results.read_text())["score"] == 0
    one_line_error(capsys, "no backprop.py or backprop.ipynb in")


# ----- C3, C4, U14, W6: model files ------------------------------------------------------
def _tampered(source, target, record=None, extra=None, arrays=None):
    with np.load(source) as data:
        members = {k: data[k] for k in data.files}
    if record is not None:
        members["record"] = np.array(json.dumps(record(json.loads(str(members["record"])))))
    members.update(arrays or {})
    members.update(extra or {})
    with open(target, "wb") as fh:
        np.savez(fh, **members)
    return target


def _set(path, value):
    def edit(record):
        node = record
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return record
    return edit


@pytest.mark.parametrize("edit, message", [
    (dict(record=_set(["class"], ["SoftmaxAutoencoderNetwork"])), "unknown network class"),
    (dict(record=_set(["model", "code_dim"], float("inf"))), "stored architecture is invalid"),
    (dict(arrays={"format_version": np.ones((2, 2))}), "format version None"),
    (dict(extra={"junk": np.zeros(10)}), "members a model file never has: junk"),
    (dict(arrays={"input_scale": np.full(1000, 1e-38, np.float32)}), "input_scale has shape"),
])
def test_tampered_model_files_are_named_in_one_line(tree, joint_run, tmp_path, capsys, edit,
                                                    message):
    bad = _tampered(joint_run / "model.npz", tmp_path / "bad.npz", **edit)
    song = tree / "jazz" / "jazz.00001.wav"
    capsys.readouterr()
    assert main(["predict", str(bad), str(song)]) == 1
    one_line_error(capsys, message)


@pytest.mark.parametrize("key, value, layer", [
    # Each product 3e38 * z with |z| > 1.2 is beyond float32 on every CPU (an exact
    # product, however the kernel sums): encoder.0 gives inf or NaN, and tanh would turn
    # +-inf into a finite +-1, which is why every layer's output is checked.
    ("param/encoder.0.W", 3e38, "encoder.0"),
    # x / 1e-45 (the smallest float32, or 0 where denormals are flushed) overflows in the
    # standardization, elementwise, for any |x - mean| > 1e-3: the first layer reads inf.
    ("input_scale", 1e-45, "encoder.0"),
])
def test_a_model_that_overflows_anywhere_gives_no_verdict(tree, joint_run, tmp_path, capsys,
                                                          key, value, layer):
    with np.load(joint_run / "model.npz") as data:
        original = data[key]
    bad = _tampered(joint_run / "model.npz", tmp_path / "overflow.npz",
                    arrays={key: np.full_like(original, value)})
    capsys.readouterr()
    assert main(["predict", str(bad), str(tree / "jazz" / "jazz.00001.wav")]) == 1
    out = capsys.readouterr()
    assert out.out == "" and "Traceback" not in out.err, out
    assert f"layer {layer}" in out.err and "NaN or inf" in out.err and "no verdict" in out.err


def test_finite_forward_names_the_layer_and_leaves_training_unchecked():
    from numpy_sae.nn.model import SoftmaxAutoencoderNetwork
    network = SoftmaxAutoencoderNetwork(input_dim=8, n_classes=2, code_dim=2,
                                        encoder_hidden=(4,), seed=0)
    network.classifier.layers[0].params["W"][0, 0] = np.nan
    x = np.ones((3, 8), np.float32)
    with pytest.raises(FloatingPointError, match=r"classifier\.0 \(Dense\(2, "):
        with network.finite_forward():
            network.predict_proba(x)
    # Outside the block nothing is checked (training's own NaN check stays where it is).
    assert network.encoder.check_finite is None and network.classifier.check_finite is None
    assert np.isnan(network.predict_proba(x)).all()


def test_a_loader_asked_for_another_class_names_the_stored_one(joint_run):
    from numpy_sae.modelfile import ModelFileError, load_model_file
    from numpy_sae.nn.model import SegmentAutoencoderNetwork
    with pytest.raises(ModelFileError, match="holds a SoftmaxAutoencoderNetwork, not a "
                                             "SegmentAutoencoderNetwork"):
        load_model_file(joint_run / "model.npz", SegmentAutoencoderNetwork)


# ----- W7, C5: silence, and long files ----------------------------------------------------
def test_silence_gets_a_warning_with_its_verdict(joint_run, tmp_path, capsys):
    from scipy.io import wavfile
    silent = tmp_path / "silent.wav"
    wavfile.write(silent, 22050, np.zeros(22050 * 3, np.float32))
    capsys.readouterr()
    assert main(["predict", str(joint_run), str(silent)]) == 0
    captured = capsys.readouterr()
    assert "silent.wav:" in captured.out and "is silent or nearly" in captured.err


def test_a_segment_models_file_is_read_lazily(tree, tmp_path):
    from numpy_sae.audio_model import AudioModel
    from numpy_sae.data.segments import Segments
    assert train(tree, tmp_path, "--name", "s", *SEGMENT) == 0
    model, _, _ = AudioModel.load(tmp_path / "s" / "model.npz")
    x = model.file_windows(tree / "jazz" / "jazz.00001.wav")
    assert isinstance(x, Segments) and x.shape[0] == 4  # frames cut only as they are read


# ----- C9, U8, L5: synth ------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (("--clips", "3000000"), "a number of clips from 1 to 10000"),
    (("--duration", "1e9"), "a number of seconds in (0, 3600]"),
    (("--genres", "all", "--clips", "10000", "--duration", "3600"), "at most 200 GB"),
])
def test_synth_is_bounded_before_any_work(tmp_path, capsys, argv, message):
    assert main(["synth", str(tmp_path / "s"), *argv]) == 2
    one_line_error(capsys, message)
    assert not (tmp_path / "s").exists()


def test_a_killed_synths_staging_folder_is_removed_by_the_next(tmp_path):
    stale = tmp_path / "s" / ".genres_original.tmp999999999"
    (stale / "blues").mkdir(parents=True)
    generate_dataset(tmp_path / "s", genres=("blues", "jazz"), clips_per_genre=1, duration=0.5)
    assert not stale.exists() and (tmp_path / "s" / "genres_original" / "blues").is_dir()


# ----- U6, U9: run folders ------------------------------------------------------------------
def test_a_run_that_fails_before_saving_gives_its_name_back(tree, tmp_path, capsys, monkeypatch):
    from numpy_sae.train import Trainer

    def out_of_memory(self, epochs, on_epoch_end=None):
        raise MemoryError
    with monkeypatch.context() as patch:
        patch.setattr(Trainer, "fit", out_of_memory)
        assert train(tree, tmp_path, "--name", "again") == 1
    one_line_error(capsys, "out of memory")
    assert not (tmp_path / "again").exists()
    assert train(tree, tmp_path, "--name", "again") == 0


def test_out_that_is_a_file_is_named(tree, tmp_path, capsys):
    (tmp_path / "song.wav").write_text("not a folder")
    for out in (tmp_path / "song.wav", tmp_path / "song.wav" / "sub"):
        assert main(["train", "--model", "joint", "--data", str(tree), "--genres", "blues,jazz", "--epochs", "1",
                     "--out", str(out)]) == 1
        one_line_error(capsys, "is (or is inside) a file, not a folder")


def test_estimator_messages_name_the_argument(rng):
    from numpy_sae import SoftmaxAutoencoder
    x, y = rng.standard_normal((20, 6)).astype(np.float32), np.arange(20) % 2
    with pytest.raises(ValueError, match="random_state must be an int >= 0"):
        SoftmaxAutoencoder(epochs=1, random_state=-1).fit(x, y)
    with pytest.raises(ValueError, match="validation_data must be a pair"):
        SoftmaxAutoencoder(epochs=1).fit(x, y, validation_data=(x, y, y))


# ----- C2, C8: the grader's children ---------------------------------------------------------
@pytest.mark.skipif(os.name != "posix", reason="signals and fork are POSIX here")
def test_stopping_the_grader_ends_the_students_process(tmp_path):
    import signal
    import subprocess
    import time
    student = tmp_path / "hw"
    main(["exercises", "key", str(student)])
    source = (student / "backprop.py").read_text()
    import tempfile
    # As root the grader runs the student's code as nobody: a folder it may write to.
    shared = Path(tempfile.mkdtemp())
    shared.chmod(0o777)
    marker = shared / "alive"
    stubborn = (f"    import time\n    while True:\n        try:\n"
                f"            open({str(marker)!r}, 'w').write(str(time.time()))\n"
                f"            time.sleep(0.05)\n        except BaseException:\n            pass\n")
    start = source.index("def dense_forward(")
    doc_end = source.index('"""', source.index('"""', start) + 3) + 3
    (student / "backprop.py").write_text(source[:doc_end] + "\n" + stubborn
                                         + source[source.find("\ndef ", doc_end):])
    grader = subprocess.Popen([sys.executable, "-m", "numpy_sae.commands.cli", "exercises",
                               "check", str(student), "--time-limit", "60"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marker.exists(), "the student's loop never started"
    grader.send_signal(signal.SIGTERM)
    assert grader.wait(timeout=30) == 130
    time.sleep(0.5)
    last = float(marker.read_text())
    time.sleep(0.5)
    assert float(marker.read_text()) == last  # nobody writes it any more
    import shutil
    shutil.rmtree(shared)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_student_file_that_forks_is_graded(tmp_path, capsys):
    student = tmp_path / "hw"
    main(["exercises", "key", str(student)])
    source = (student / "backprop.py").read_text()
    (student / "backprop.py").write_text("import os\nos.fork()\n" + source)
    capsys.readouterr()
    assert main(["exercises", "check", str(student), "--only", "dense_forward"]) == 0
    assert "dense_forward" in capsys.readouterr().out


# ----- W5: caches are checked before they are trusted ---------------------------------------
@pytest.mark.parametrize("tamper", [
    lambda a: a.update(labels=a["labels"][::-1].copy()),
    lambda a: a.update(offsets=a["offsets"][::-1].copy()),
    lambda a: a.update(signals=(a["signals"] * 1000).astype(np.int16)),
    lambda a: a.update(genre_names=np.array(["rock", "pop"])),
    lambda a: a.update(paths=a["paths"][:-1], labels=a["labels"][:-1]),
    lambda a: a.update(offsets=a["offsets"].astype(np.float64)),
    lambda a: a.update(skipped=np.array(["x"])),
])
def test_a_tampered_cache_is_rebuilt_not_trusted(tree, tmp_path, tamper):
    from numpy_sae.data.gtzan import build_clipset
    lines = []
    first = build_clipset(tree, ["blues", "jazz"], cache_dir=tmp_path, log=lines.append)
    (cache,) = tmp_path.glob("clips-*.npz")
    with np.load(cache) as data:
        arrays = {k: data[k] for k in data.files}
    tamper(arrays)
    with open(cache, "wb") as fh:
        np.savez(fh, **arrays)
    again = build_clipset(tree, ["blues", "jazz"], cache_dir=tmp_path, log=lines.append)
    assert any("ignoring unreadable cache" in line for line in lines)
    np.testing.assert_array_equal(again.labels, first.labels)
    np.testing.assert_array_equal(again.signals, first.signals)


@pytest.mark.parametrize("frames, message", [(None, "cannot read single windows"),
                                             (1, "needs at least 2")])
def test_a_model_whose_network_and_preprocessing_disagree_is_refused(tree, tmp_path, capsys,
                                                                    frames, message):
    assert train(tree, tmp_path, "--name", "s", *SEGMENT) == 0
    bad = _tampered(tmp_path / "s" / "model.npz", tmp_path / "bad.npz",
                    record=_set(["meta", "preprocessing", "segment_frames"], frames))
    capsys.readouterr()
    assert main(["predict", str(bad), str(tree / "jazz" / "jazz.00001.wav")]) == 1
    one_line_error(capsys, message)


# ----- C7, U3: the grader's verdict on what the student's code did ---------------------------
def _with_body(student, function, body):
    source = (student / "backprop.py").read_text()
    start = source.index(f"def {function}(")
    doc_end = source.index('"""', source.index('"""', start) + 3) + 3
    (student / "backprop.py").write_text(source[:doc_end] + "\n" + body
                                         + source[source.find("\ndef ", doc_end):])


@pytest.mark.skipif(os.name != "posix", reason="the memory limit is POSIX only")
def test_a_function_that_allocates_without_end_is_stopped_by_the_memory_limit(tmp_path, capsys):
    student = tmp_path / "hw"
    main(["exercises", "key", str(student)])
    _with_body(student, "dense_forward", "    import numpy as np\n"
               "    hoard = [np.ones(2 ** 27) for _ in range(1000)]\n    return x, hoard\n")
    capsys.readouterr()
    assert main(["exercises", "check", str(student), "--only", "dense_forward",
                 "--memory-limit", "700"]) == 1
    out = capsys.readouterr().out
    assert "error: MemoryError" in out


@pytest.mark.parametrize("body, shown", [
    ("    class Odd(Exception):\n        def __str__(self):\n            raise RuntimeError\n"
     "    raise Odd()\n", "error: Odd: (its message could not be shown"),
    ("    raise KeyboardInterrupt\n", "error: KeyboardInterrupt"),
])
def test_the_grader_blames_no_exit_the_student_did_not_make(tmp_path, capsys, body, shown):
    student = tmp_path / "hw"
    main(["exercises", "key", str(student)])
    _with_body(student, "dense_forward", body)
    capsys.readouterr()
    assert main(["exercises", "check", str(student), "--only", "dense_forward"]) == 1
    out = capsys.readouterr().out
    assert shown in out and "ended the grading process" not in out


# ----- U12: new songs of some of the model's genres ------------------------------------------
@pytest.mark.parametrize("model", [(), ("--model", "features-logistic")])
def test_evaluate_scores_a_folder_of_one_genre(tree, tmp_path, capsys, model):
    import shutil
    assert train(tree, tmp_path, "--name", "m", *model) == 0
    only = tmp_path / "only"
    shutil.copytree(tree / "jazz", only / "jazz")
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "m"), "--data", str(only)]) == 0
    out = capsys.readouterr().out
    assert "6 clips of 1 of its 2 genres (jazz)" in out and "song level" in out
    (only / "jazz").rename(only / "polka")
    assert main(["evaluate", str(tmp_path / "m"), "--data", str(only)]) == 1
    one_line_error(capsys, "none of the model's genres (blues, jazz)")


def test_a_member_declaring_a_huge_array_is_refused_before_allocation(tree, joint_run, tmp_path,
                                                                      capsys):
    import shutil
    import zipfile
    bad = tmp_path / "huge.npz"
    shutil.copy(joint_run / "model.npz", bad)
    header = {"descr": "<f4", "fortran_order": False, "shape": (2 ** 18, 2 ** 20)}
    with zipfile.ZipFile(bad, "a") as archive, archive.open("param/extra.W.npy", "w") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
    capsys.readouterr()
    assert main(["predict", str(bad), str(tree / "jazz" / "jazz.00001.wav")]) == 1
    one_line_error(capsys, "member param/extra.W declares 1,099,511,627,776 bytes")


def test_a_damaged_song_record_and_a_full_disk_at_the_report_are_named(tree, tmp_path, capsys,
                                                                       monkeypatch):
    assert train(tree, tmp_path, "--name", "r") == 0
    model = tmp_path / "r" / "model.npz"
    _tampered(model, tmp_path / "copy.npz", record=_set(["meta", "subsets"], ["a", "list"]))
    os.replace(tmp_path / "copy.npz", model)
    capsys.readouterr()
    assert main(["train", "--resume", str(tmp_path / "r"), "--epochs", "2"]) == 1
    one_line_error(capsys, "record of the run's songs is damaged")

    import numpy_sae.commands.report as report

    def full(history, path):
        raise OSError(28, "No space left on device", str(path))
    monkeypatch.setattr(report, "write_history", full)
    assert train(tree, tmp_path, "--name", "full") == 1
    one_line_error(capsys, "cannot write", "history.csv: No space left on device",
                   "the trained model is saved in")


# ----- round 5: L2, U1: one folder-claiming rule for new runs and resumes ------------------
def test_a_resume_is_refused_while_the_new_run_is_still_writing(tree, tmp_path, capsys,
                                                               monkeypatch):
    from numpy_sae.commands import job
    answers = []
    real = job.write_results

    def meanwhile(run_dir, *args, **kwargs):  # the model file is saved; the run goes on
        answers.append(main(["train", "--resume", str(run_dir), "--epochs", "3"]))
        return real(run_dir, *args, **kwargs)
    monkeypatch.setattr(job, "write_results", meanwhile)
    assert train(tree, tmp_path, "--name", "busy") == 0
    assert answers == [1]
    assert "is being trained by another command" in capsys.readouterr().err
    assert not (tmp_path / "busy" / LOCK).exists()  # released when the run ended


def test_a_new_run_that_fails_after_claiming_its_folder_gives_the_name_back(tree, tmp_path,
                                                                           monkeypatch):
    from numpy_sae.commands import job

    def broken(*args, **kwargs):
        raise ValueError("no trainer today")
    monkeypatch.setattr(job, "make_trainer", broken)
    assert train(tree, tmp_path, "--name", "again") == 1
    assert not (tmp_path / "again").exists()
    monkeypatch.undo()
    assert train(tree, tmp_path, "--name", "again") == 0


def test_a_failure_after_the_claim_is_the_same_on_the_rerun(tree, tmp_path, capsys):
    # Round 5, U1: the error raised by training_source left a claimed empty folder.
    for _ in range(2):
        assert train(tree, tmp_path, "--model", "joint", "--split", "segment", "--crops", "5",
                     "--name", "s5") == 1
        assert "random crops need a song-level split" in capsys.readouterr().err
    assert not (tmp_path / "s5").exists()


def test_a_run_folder_that_cannot_be_made_says_why(tree, tmp_path, capsys):
    # Round 5, U2: every failure was "already exists and is not empty".
    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF")
    assert main(["train", "--model", "joint", "--data", str(tree), "--genres", "blues,jazz",
                 "--epochs", "1", "--out", str(song), "--name", "x", "--no-figures"]) == 1
    err = capsys.readouterr().err
    assert "is (or is inside) a file" in err and "not empty" not in err


def test_a_write_error_names_the_output_not_its_temporary_file(tmp_path):
    # Round 5, U3: a full or read-only disk named '.c.tmp<pid>-0.npz', or no file.
    import errno
    target = tmp_path / "c.npz"
    with pytest.raises(JobError) as caught:
        with written_output(target) as tmp:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp))
    assert str(caught.value) == f"cannot write {target}: No space left on device"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("option", [("--seed", "5"), ("--split", "segment"),
                                    ("--method", "poly"), ("--out", "elsewhere"),
                                    ("--cache-dir", "c")])
def test_a_resume_refuses_every_option_it_would_ignore(tmp_path, option, capsys):
    # Round 5, U4: these were ignored without a word.
    (tmp_path / "r").mkdir()
    assert main(["train", "--resume", str(tmp_path / "r"), "--epochs", "3", *option]) == 2
    assert f"not {option[0]}" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (("--front-warmup", "100001000"), "--front-warmup: expected a number of epochs"),
    (("--front-filters", "0"), "--front-filters: expected a number of filters"),
    (("--lr", "1e4"), "--lr: expected a learning rate in (0, 1000]"),
    (("--epochs", "10000001"), "--epochs: expected a number of epochs"),
    (("--weight-decay", "1e7"), "--weight-decay: expected a weight decay"),
    (("--front-anchor", "1e10"), "--front-anchor: expected a weight"),
    (("--front-lr-scale", "1e4"), "--front-lr-scale: expected a factor of --lr"),
])
def test_bounds_name_the_option_and_are_usage_errors(argv, message, capsys):
    # Round 5, U8: wrong nouns, or exit 1 with "setting lr is 10000.0".
    assert main(["train", *argv]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--name", "a\nb"], "run name 'a\\nb' must hold visible characters and no control"),
    (["--name", " "], "run name ' ' must hold visible characters"),
    (["--name", "tab\there"], "no control characters"),
])
def test_names_with_control_characters_or_only_blanks_are_refused(tree, tmp_path, capsys,
                                                                   argv, message):
    # Round 5, U16: --name $'a\nb' made a folder with a newline in its name, ' ' one named " ".
    assert train(tree, tmp_path / "runs", *argv) != 0
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_an_empty_out_is_a_usage_error(capsys):
    # Round 5, U16: --out '' wrote into ./runs without a word.
    assert main(["train", "--out", ""]) == 2
    assert "--out: expected a folder or file name, got ''" in capsys.readouterr().err


def test_predict_prints_a_name_with_a_newline_on_one_line(joint_run, tree, tmp_path, capsys):
    # Round 5, U16: "nl<newline>name.wav" printed its result over two lines.
    song = tmp_path / "nl\nname.wav"
    song.write_bytes((tree / "blues" / "blues.00000.wav").read_bytes())
    bad = tmp_path / "bad\nfile.wav"
    bad.write_bytes(b"RIFF")
    capsys.readouterr()
    assert main(["predict", str(joint_run), str(song), str(bad)]) == 1
    out, err = capsys.readouterr()
    assert len(out.strip().splitlines()) == 1 and out.startswith(str(tmp_path / "nl\\nname.wav: "))
    assert len(err.strip().splitlines()) == 1 and "bad\\nfile.wav" in err
