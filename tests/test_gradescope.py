"""The Gradescope bundle: what it holds, and results.json on every path of run_autograder."""

import ast
import json
import os
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import numpy_sae
from numpy_sae.commands.cli import main
from numpy_sae.teaching import exercises


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    """The bundle unpacked in a Gradescope-shaped tree: ROOT/source, ROOT/run_autograder."""
    folder = tmp_path_factory.mktemp("gradescope")
    assert main(["exercises", "bundle", str(folder / "autograder.zip"), "--points",
                 "joint_network_loss=4,adam_step=2", "--training-points", "3",
                 "--visibility", "after_due_date", "--hidden", "filterbank_backward",
                 "--training-limit", "300"]) == 0
    with zipfile.ZipFile(folder / "autograder.zip") as archive:
        archive.extractall(folder / "source")
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
    return folder, modes


def run_autograder(bundle, tmp_path, files, env=None):
    """Run the bundle's run_autograder on a submission of ``files``; its results.json."""
    folder, _ = bundle
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "source").symlink_to(folder / "source")
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    # python3 is this interpreter, as setup.sh would have made it on Gradescope's image.
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "python3").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (shim / "python3").chmod(0o755)
    completed = subprocess.run(
        ["bash", str(folder / "source" / "run_autograder")], capture_output=True, text=True,
        env={**os.environ, "AUTOGRADER_ROOT": str(root),
             "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}", **(env or {})}, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_the_bundle_holds_what_gradescope_runs(bundle, tmp_path, capsys):
    folder, modes = bundle
    source = folder / "source"
    for name in ("setup.sh", "run_autograder"):
        assert stat.S_IMODE(modes[name]) & 0o111, name  # executable inside the zip
        assert (source / name).read_text().startswith("#!/usr/bin/env bash")
    config = json.loads((source / "config.json").read_text())
    assert config["points"] == {"joint_network_loss": 4, "adam_step": 2}
    assert config["training_points"] == 3 and config["visibility"] == "after_due_date"
    assert config["hidden"] == ["filterbank_backward"]
    # T5-19: the training's own limit is a setting; the memory limit fits Gradescope's 768 MB.
    assert config["training_limit"] == 300 and config["memory_limit"] == 512
    shipped = source / "numpy_sae_source"
    assert (shipped / "numpy_sae" / "commands" / "gradescope.py").is_file()
    assert not list(shipped.rglob("__pycache__"))
    pyproject = (shipped / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.10"' in pyproject and "numpy" in pyproject
    assert f'version = "{numpy_sae.__version__}"' in pyproject
    # T5-25: the dependencies were unpinned; now exact versions per Python of the image:
    # this Python's own (those the instructor graded with) and Gradescope's default 3.10.
    import numpy as np
    assert "pip install -c numpy_sae_source/constraints.txt ./numpy_sae_source" in \
        (source / "setup.sh").read_text()
    pins = (shipped / "constraints.txt").read_text().splitlines()
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f'numpy=={np.__version__}; python_version == "{here}"' in pins
    assert any(line.startswith("numpy==") and line.endswith('python_version == "3.10"')
               for line in pins)
    assert all(line.startswith("#") or '; python_version == "' in line for line in pins)
    # Never replaced without --force; a bad weight is one line, exit 2.
    # Round 5, U15: the whole zip was built, then "another command wrote it meanwhile".
    assert main(["exercises", "bundle", str(folder / "autograder.zip")]) == 1
    err = capsys.readouterr().err
    assert "autograder.zip already exists; it is not replaced" in err and "meanwhile" not in err
    # Round 5, C6: inf points reached config.json as Infinity; 1e308 crashed after the zip.
    for argv in (["--points", "dense_forward=inf"],
                 ["--points", "dense_forward=1e308,dense_backward=1e308"],
                 ["--training-points", "1e308"]):
        assert main(["exercises", "bundle", str(tmp_path / "x.zip"), *argv]) == 2
        err = capsys.readouterr().err
        assert "from 0 to 1e+06" in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "x.zip").exists()
    assert main(["exercises", "bundle", str(tmp_path / "x.zip"), "--points", "nope=3"]) == 2
    assert "'nope=3'" in capsys.readouterr().err and not (tmp_path / "x.zip").exists()


def test_every_module_is_python_310(bundle):
    # Gradescope's default image runs Python 3.10: no 3.11-only syntax anywhere shipped.
    for path in Path(numpy_sae.__file__).parent.rglob("*.py"):
        ast.parse(path.read_text(encoding="utf-8"), str(path), feature_version=(3, 10))


def test_a_notebook_key_scores_everything_with_weights_and_statuses(bundle, tmp_path):
    key = tmp_path / "key"
    assert main(["exercises", "key", str(key), "--notebook"]) == 0
    results = run_autograder(bundle, tmp_path, {
        "backprop.ipynb": (key / "backprop.ipynb").read_text()})
    tests = {t["name"]: t for t in results["tests"]}
    assert results["score"] == len(exercises.GRADED) - 2 + 4 + 2 + 3
    assert tests["joint_network_loss"]["max_score"] == 4
    assert tests["training with your functions"] == {**tests["training with your functions"],
                                                      "score": 3, "max_score": 3,
                                                      "status": "passed"}
    assert all(t["status"] == "passed" for t in results["tests"])
    assert tests["filterbank_backward"]["visibility"] == "hidden"  # counted, never shown
    assert all(t["visibility"] == "after_due_date" for name, t in tests.items()
               if name != "filterbank_backward")
    assert "execution_time" in results and results["visibility"] == "after_due_date"
    # Round 5 teaching audit, T5-07: the summary, shown early, named the score and the
    # count with hidden tests in it.
    # (a line for the instructor may follow, where the student's code could not run as an
    # unprivileged user)
    assert results["output"].split("\n")[0] == \
        "21 tests were run; the results are shown after the due date."
    assert "it learns." in tests["training with your functions"]["output"]


def test_a_failed_training_is_a_failed_test_with_the_students_line(bundle, tmp_path):
    source = exercises.student_source(solutions=True)
    # Right on the grader's small arrays, wrong for a batch of 32: fails only in training.
    source = source.replace("    dx = dout_a + dout_b\n",
                            "    if len(dout_a) > 8:\n        raise IndexError('batch too big')\n"
                            "    dx = dout_a + dout_b\n", 1)
    results = run_autograder(bundle, tmp_path, {"backprop.py": source})
    training = next(t for t in results["tests"] if t["name"] == "training with your functions")
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "batch too big" in text)
    assert training["status"] == "failed" and training["score"] == 0
    assert "IndexError: batch too big" in training["output"]
    assert f"(backprop.py, line {line}, in fanout_backward" in training["output"]


def test_a_submission_that_cannot_be_graded_still_gets_a_result(bundle, tmp_path):
    # Through Gradescope's shell script once; the other paths through the same Python entry.
    results = run_autograder(bundle, tmp_path, {
        "backprop.py": "import numpy as np\n\ndef dense_forward(x, W, b):\n    return x @ W +\n"})
    assert results["score"] == 0
    assert "SyntaxError: invalid syntax (backprop.py, line 4)" in results["output"]
    assert results["tests"][0]["status"] == "failed"
    from numpy_sae.commands.gradescope import main as grade_main
    for number, (files, said) in enumerate((
            ({"backprop.py": "import numpy as np\nfrom missing_helper import thing\n"},
             "ModuleNotFoundError: No module named 'missing_helper' (backprop.py, line 2"),
            ({"hw1.py": "x = 1\n"},
             "no backprop.py or backprop.ipynb in the submission (found: hw1.py)"),
            ({"backprop.ipynb": "{not json"}, "is not a notebook"))):
        submission = tmp_path / f"submission{number}"
        submission.mkdir()
        for name, text in files.items():
            (submission / name).write_text(text)
        written = tmp_path / f"results{number}.json"
        assert grade_main([str(submission), str(written), "--config",
                           str(bundle[0] / "source" / "config.json")]) == 0
        results = json.loads(written.read_text())
        assert results["score"] == 0 and said in results["output"], results
        assert results["tests"][0]["status"] == "failed"


def test_results_exist_even_when_numpy_sae_cannot_start(bundle, tmp_path):
    broken = tmp_path / "broken" / "numpy_sae"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('a broken install')\n")
    results = run_autograder(bundle, tmp_path, {"backprop.py": "x = 1\n"},
                             env={"PYTHONPATH": str(broken.parent)})
    assert results["score"] == 0 and "could not start" in results["output"]


def test_a_run_stopped_from_outside_leaves_a_result_that_says_so(bundle, tmp_path):
    # Gradescope's own time limit kills run_autograder: the provisional result stays.
    folder, _ = bundle
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / "backprop.py").write_text("import time\ntime.sleep(4)\n")
    results = tmp_path / "results.json"
    grading = subprocess.Popen([sys.executable, "-m", "numpy_sae.commands.gradescope",
                                str(tmp_path / "submission"), str(results), "--config",
                                str(folder / "source" / "config.json")], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not results.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        grading.kill()
        grading.wait()
    written = json.loads(results.read_text())
    assert written["score"] == 0 and "grading did not finish" in written["output"]


@pytest.mark.parametrize("change, message", [
    ({"hidden": None}, "hidden: None is not a list"),
    ({"hidden": 3}, "hidden: 3 is not a list"),
    ({"time_limit": -1}, "time limit -1 is not a number of seconds in (0, 3600]"),
    ({"time_limit": "20"}, "time limit '20' is not a number of seconds"),
    ({"memory_limit": 1}, "memory limit 1 is not a number of MB from 256"),
    ({"memory_limit": "x"}, "memory limit 'x' is not a number of MB"),
    ({"training_limit": 1}, "training limit 1 is not a number of seconds from 10"),
])
def test_config_values_are_checked_before_any_grading(change, message):
    # Round 5, C3: hidden null stopped every submission; limits blamed the student.
    from numpy_sae.commands.gradescope import check_config
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        check_config(change)


def test_a_memory_limit_numpy_sae_cannot_grade_under_is_refused(tmp_path, capsys):
    # Round 5, C5: --memory-limit 256 hung 600 s, then told the key "an endless loop?".
    # The student's process now runs only the student's functions: 256 MB is enough.
    assert main(["exercises", "check", str(tmp_path), "--memory-limit", "128"]) == 2
    assert "--memory-limit: expected a number of MB from 256" in capsys.readouterr().err
