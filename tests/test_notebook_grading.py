"""A notebook is graded as the student's kernel runs it (teaching audit round 5, T5-01 to
T5-03): every cell's definitions count, the last one winning; what only tests or prints
cannot break grading; errors name the notebook's cell."""

import json
import sys

import numpy as np
import pytest

from numpy_sae.commands.cli import main
from numpy_sae.commands.gradescope import find_submission
from numpy_sae.teaching import exercises
from numpy_sae.teaching.assignment import assignment_notebook, notebook_program

DENSE = ("def dense_forward(x, W, b):\n"
         "    return affine(x, W, b), (x, W)\n"
         "\n"
         "def dense_backward(dout, cache, need_dx=True):\n"
         "    x, W = cache\n"
         "    return dout @ W.T, x.T @ dout, dout.sum(axis=0)\n")


def _code(source, cell_id):
    return {"cell_type": "code", "id": cell_id, "metadata": {}, "execution_count": None,
            "outputs": [], "source": source}


def _student_notebook(*inserted):
    """The student's notebook with cells put just before the dense pair's check cell."""
    notebook = json.loads(assignment_notebook(solutions=False))
    at = next(k for k, c in enumerate(notebook["cells"])
              if "".join(c["source"]).startswith("check(dense_forward"))
    notebook["cells"][at:at] = list(inserted)
    return notebook, at


def _grades(capsys, folder, only):
    capsys.readouterr()
    main(["exercises", "check", str(folder), "--only", only, "--json"])
    return {row["function"]: row for row in json.loads(capsys.readouterr().out)["functions"]}


def test_answers_in_new_cells_with_helpers_magics_and_test_lines_are_graded(tmp_path, capsys):
    notebook, at = _student_notebook(
        _code("x_test = np.ones((2, 3)); W_test = np.ones((3, 4)); b_test = np.zeros(4)", "t"),
        _code("def affine(x, W, b):\n    return x @ W + b\n", "helper"),
        # The answer below the stub, under %%time, with a test line and a print after it.
        _code("%%time\n" + DENSE + "\nout, _ = dense_forward(x_test, W_test, b_test)\n"
              "print(out.shape)\n!echo done\n", "mine"),
        _code("%%bash\necho not python\n", "shell"),
        _code("this is not python (", "broken-scratch"))
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "backprop.ipynb").write_text(json.dumps(notebook))
    grades = _grades(capsys, folder, "dense_forward")
    assert grades["dense_forward"]["status"] == "correct"
    assert grades["dense_backward"]["status"] == "correct"
    source, lines = notebook_program(json.dumps(notebook))
    assert "x_test" not in source and "print(out.shape)" not in source
    assert "check(" not in source and "echo" not in source
    # Both definitions are there, the stub first: the answer wins, as in the kernel.
    assert source.count("def dense_forward(x, W, b):") == 2
    mine = at + 3  # cells counted from 1: the third inserted cell
    numbered = [where for line, where in zip(source.splitlines(), lines)
                if line == "    return affine(x, W, b), (x, W)"]
    assert numbered == [(mine, 3)]


def test_errors_name_the_notebook_cell_and_line(tmp_path, capsys):
    notebook, at = _student_notebook(
        _code("def dense_forward(x, W, b):\n    out = x @ W + bias\n    return out, (x, W)\n",
              "wrong"))
    folder = tmp_path / "n"
    folder.mkdir()
    (folder / "backprop.ipynb").write_text(json.dumps(notebook))
    status = _grades(capsys, folder, "dense_forward")["dense_forward"]["status"]
    assert "NameError: name 'bias' is not defined" in status
    assert f"(backprop.ipynb, cell {at + 1}, line 2, in dense_forward: out = x @ W + bias)" \
        in status and "backprop.py" not in status
    # A function cell that does not parse: the notebook does not import, named by its cell.
    notebook["cells"][at]["source"] = "def dense_forward(x, W, b):\n    return x @@ W\n"
    (folder / "backprop.ipynb").write_text(json.dumps(notebook))
    capsys.readouterr()
    assert main(["exercises", "check", str(folder), "--only", "dense_forward"]) == 1
    err = capsys.readouterr().err
    assert f"backprop.ipynb does not import: SyntaxError: invalid syntax (backprop.ipynb, " \
           f"cell {at + 1}, line 2)" in err


def test_of_a_py_and_a_notebook_the_one_with_work_is_graded_and_named(tmp_path, capsys):
    folder = tmp_path / "both"
    assert main(["exercises", "init", str(folder), "--level", "derive"]) == 0  # the stubs
    (folder / "backprop.ipynb").write_text(assignment_notebook(solutions=True))
    capsys.readouterr()
    assert main(["exercises", "check", str(folder), "--only", "dense_forward"]) == 0
    out = capsys.readouterr().out
    graded = len(exercises.GRADED)
    assert (f"note: both backprop.py and backprop.ipynb were found; grading backprop.ipynb "
            f"({graded} of {graded} functions written; backprop.py: 0 of {graded} functions "
            f"written)") in out
    assert "dense_forward" in out and "2 of 2 functions correct" in out


def test_a_submission_nested_deeper_is_found(tmp_path):
    # Round 5, U7: two folders down was "submit the file under that name".
    deep = tmp_path / "submission" / "hw1" / "src"
    deep.mkdir(parents=True)
    (deep / "backprop.py").write_text(exercises.student_source(solutions=True))
    (tmp_path / "submission" / "notes.txt").write_text("mine")
    assert find_submission(tmp_path / "submission", log=lambda line: None) == \
        deep / "backprop.py"


def test_results_never_replace_the_notebook_or_a_helper(tmp_path, capsys):
    # Round 5, L1: --results DIR/backprop.ipynb --force replaced the notebook.
    folder = tmp_path / "k"
    folder.mkdir()
    (folder / "backprop.ipynb").write_text(assignment_notebook(solutions=True))
    (folder / "helpers.py").write_text("X = 1\n")
    for target in ("backprop.ipynb", "helpers.py"):
        before = (folder / target).read_bytes()
        capsys.readouterr()
        assert main(["exercises", "check", str(folder), "--only", "dense_forward",
                     "--results", str(folder / target), "--force"]) == 1
        assert "is also an input of this command" in capsys.readouterr().err
        assert (folder / target).read_bytes() == before


def test_json_is_printed_when_there_is_nothing_to_grade(tmp_path, capsys):
    # Round 5, U5: --json printed nothing for a missing file or one that is no notebook.
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "backprop.ipynb").write_text('{"cells": [')
    for folder, words in (("empty", "no backprop.py or backprop.ipynb"),
                          ("bad", "backprop.ipynb is not a notebook")):
        capsys.readouterr()
        assert main(["exercises", "check", str(tmp_path / folder), "--json"]) == 1
        document = json.loads(capsys.readouterr().out)
        assert document["score"] == 0 and words in document["error"]


def test_any_exception_of_a_student_is_an_error_of_that_function(tmp_path, capsys):
    # Round 5, U12: GeneratorExit was "sys.exit or os._exit?" for the function and its
    # partner; a %%time cell of the notebook (U6) is graded as Python.
    source = exercises.student_source(solutions=True).replace(
        "    out = x @ W + b\n    return out, (x, W)", "    raise GeneratorExit", 1)
    assert "raise GeneratorExit" in source
    (tmp_path / "g").mkdir()
    (tmp_path / "g" / "backprop.py").write_text(source)
    grades = _grades(capsys, tmp_path / "g", "dense_forward")
    assert grades["dense_forward"]["status"].startswith("error: GeneratorExit")
    assert "(backprop.py, line" in grades["dense_forward"]["status"]
    assert "sys.exit" not in grades["dense_backward"]["status"]


def test_a_backward_that_never_returns_costs_its_forward_nothing(tmp_path, capsys):
    # Teaching round 5, T5-06: an endless loop in dense_backward took dense_forward's point.
    source = exercises.student_source(solutions=True)
    marker = "def dense_backward("
    head, tail = source.split(marker, 1)
    signature, body = tail.split("\n", 1)
    source = head + marker + signature + "\n    while True:\n        pass\n" + body
    (tmp_path / "loop").mkdir()
    (tmp_path / "loop" / "backprop.py").write_text(source)
    capsys.readouterr()
    main(["exercises", "check", str(tmp_path / "loop"), "--only", "dense_forward", "--json",
          "--time-limit", "1"])
    grades = {r["function"]: r for r in json.loads(capsys.readouterr().out)["functions"]}
    assert grades["dense_forward"]["status"] == "correct" and grades["dense_forward"]["points"]
    assert grades["dense_backward"]["status"].startswith("error: ran longer than 1 s")
    assert "in dense_backward: " in grades["dense_backward"]["status"]  # the looping line


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_grading_process_killed_as_for_memory_is_named_so(tmp_path, capsys):
    # T5-06: a process the system killed for memory was "sys.exit or os._exit?".
    source = exercises.student_source(solutions=True).replace(
        "    out = x @ W + b\n    return out, (x, W)",
        "    import os, signal\n    os.kill(os.getpid(), signal.SIGKILL)", 1)
    (tmp_path / "oom").mkdir()
    (tmp_path / "oom" / "backprop.py").write_text(source)
    grades = _grades(capsys, tmp_path / "oom", "dense_forward,tanh_forward")
    assert "killed (SIGKILL): out of memory?" in grades["dense_forward"]["status"]
    assert "sys.exit" not in grades["dense_forward"]["status"]
    assert grades["tanh_forward"]["status"] == "correct"  # the next unit goes on


def test_functions_keep_their_scores_when_training_runs_out_of_time(tmp_path, capsys):
    # T5-05: correct but slow code reached Gradescope's stop while training and scored 0.
    import time

    from numpy_sae.commands.exercises import run_check
    source = exercises.student_source(solutions=True).replace(
        "def dense_forward(", "def _dense_forward(", 1) + (
        "\n\ndef dense_forward(x, W, b):\n"
        "    if len(x) >= 30:  # training's batches, not the checks' small cases\n"
        "        import time\n        time.sleep(1000)\n"
        "    return _dense_forward(x, W, b)\n")
    folder = tmp_path / "slow"
    folder.mkdir()
    (folder / "backprop.py").write_text(source)
    results = tmp_path / "results.json"
    assert not run_check(folder, log=lambda line: None, results=results, training_points=3,
                         training_limit=1.0)
    document = json.loads(results.read_text())
    tests = {t["name"]: t for t in document["tests"]}
    training = tests.pop(next(name for name in tests if "learn" in name or "train" in name))
    assert all(t["status"] == "passed" for t in tests.values())
    assert document["score"] == len(exercises.GRADED) and training["score"] == 0
    assert "did not finish within the training's 1 s" in training["output"]
    # With almost no time left of the deadline, training is not started at all.
    assert not run_check(folder, log=lambda line: None, results=results, force=True,
                         training_points=3, deadline=time.monotonic() + 1)
    document = json.loads(results.read_text())
    assert document["score"] == len(exercises.GRADED)
    assert any("s were left of the grader's time" in t["output"] for t in document["tests"])


def test_training_shows_its_epochs_apart_from_what_the_student_printed(capsys):
    # T5-19: a local check gave no progress or expected time while training.
    from types import SimpleNamespace

    from numpy_sae.commands.exercises import _train
    from numpy_sae.nn import functional, optim
    functions = {name: getattr(optim if name == "adam_step" else functional, name)
                 for _, name in exercises.GRADED + exercises.PROVIDED}
    said = []

    def tanh_forward(z):
        if not said:
            said.append(print("hello from tanh_forward"))
        return functions["tanh_forward"](z)
    student = SimpleNamespace(**{**functions, "tanh_forward": tanh_forward},
                              begin_unit=lambda limit, poll: None)
    result = _train(student, 60, progress=print)  # the command's progress: print
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("/")[0] for line in lines] == [f"epoch {e:>2}" for e in range(1, 31)]
    assert "left)" in lines[0] and result["last"] < result["first"]
    assert result["output"].strip() == "hello from tanh_forward"


def test_a_helper_named_like_a_standard_module_breaks_nothing(tmp_path, capsys):
    # T5-11: random.py beside the key made every function "ImportError ... SystemRandom";
    # tempfile.py or logging.py ended training. A helper of its own name still imports.
    folder = tmp_path / "r"
    folder.mkdir()
    source = exercises.student_source(solutions=True).replace(
        "    out = x @ W + b\n", "    from my_helpers import plus\n    out = plus(x @ W, b)\n", 1)
    (folder / "backprop.py").write_text(source)
    for name in ("random", "tempfile", "logging", "queue", "string"):
        (folder / f"{name}.py").write_text("def helper():\n    return 1\n")
    (folder / "my_helpers.py").write_text("def plus(a, b):\n    return a + b\n")
    capsys.readouterr()
    # Every function, in the student's process (training runs in the grader's own, whose
    # import path never holds the submission's folder).
    every = ",".join(name for _, name in exercises.GRADED)
    assert main(["exercises", "check", str(folder), "--only", every]) == 0
    out = capsys.readouterr().out
    assert f"{len(exercises.GRADED)} of {len(exercises.GRADED)} functions correct" in out


def test_the_install_cell_installs_from_the_courses_source_or_asks_for_one(tmp_path, capsys,
                                                                           monkeypatch):
    # T5-14: the cell ran "pip install numpy_sae", a name no index holds for this project.
    import importlib.util
    import subprocess
    assert main(["exercises", "init", str(tmp_path / "a"), "--notebook", "--source",
                 "git+https://example.edu/numpy_sae.git"]) == 0
    assert main(["exercises", "init", str(tmp_path / "b"), "--notebook"]) == 0

    def install_cell(folder):
        cells = json.loads((tmp_path / folder / "backprop.ipynb").read_text())["cells"]
        code = next("".join(c["source"]) for c in cells
                    if "".join(c["source"]).startswith("# Install numpy_sae"))
        return code.replace("%matplotlib inline", "")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)  # a bare kernel
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda argv, check: ran.append(argv))
    exec(install_cell("a"), {})
    assert ran[0][-1] == "git+https://example.edu/numpy_sae.git"
    with pytest.raises(SystemExit, match="set SOURCE in this cell to the folder or git URL"):
        exec(install_cell("b"), {})
    assert len(ran) == 1
    capsys.readouterr()
    assert main(["exercises", "init", str(tmp_path / "c"), "--source", "x"]) == 2
    assert "--source sets the notebook's install cell: add --notebook" in capsys.readouterr().err


def _graded(tmp_path, old, new):
    source = exercises.student_source(solutions=True)
    assert old in source, old
    (tmp_path / "backprop.py").write_text(source.replace(old, new, 1))
    return {g.function: g for g in exercises.grade(
        exercises.load_student(tmp_path / "backprop.py"))}


@pytest.mark.parametrize("function, old, new, words", [
    ("sum_squared_error", "loss = float(np.sum((x_hat - x) ** 2)) / n",
     "loss = float(np.sum((x_hat - x) ** 2))", "N = 4 times the expected value (a missing 1/N?)"),
    ("sum_squared_error", "loss = float(np.sum((x_hat - x) ** 2)) / n",
     "loss = float(np.mean((x_hat - x) ** 2))", "1/D = 1/6 of the expected value"),
    ("softmax_cross_entropy", "loss = -float(log_probs[rows, y].sum(dtype=np.float64)) / n",
     "loss = -float(log_probs[rows, y].sum(dtype=np.float64))", "N = 5 times the expected"),
])
def test_a_loss_off_by_a_size_is_named(tmp_path, function, old, new, words):
    # T5-15: a summed cross-entropy or an SSE averaged over N*D was a bare "wrong forward".
    status = _graded(tmp_path, old, new)[function].status
    assert words in status, status


def test_a_softmax_backward_with_the_diagonal_only_is_named(tmp_path):
    # T5-15: dout * p * (1 - p) was "wrong gradient: dx", for a function returning dlogits.
    status = _graded(tmp_path, "    return p * (dout - np.sum(dout * p, axis=1, keepdims=True))",
                     "    return dout * p * (1 - p)")["softmax_backward"].status
    assert status.startswith("wrong gradient: dlogits: the Jacobian's diagonal only"), status
    status = _graded(tmp_path, "    return p * (dout - np.sum(dout * p, axis=1, keepdims=True))",
                     "    return 2 * p * (dout - np.sum(dout * p, axis=1, keepdims=True))"
                     )["softmax_backward"].status
    assert status == "wrong gradient: dlogits: off by a factor 2 (the derivative of a square?)"


@pytest.mark.parametrize("function, old, new", [
    ("dense_forward", "    out = x @ W + b\n    return out, (x, W)",
     "    out = x @ W + b + 1e-3 * np.random.standard_normal((len(x), W.shape[1]))\n"
     "    return out, (x, W)"),
    ("relu_forward", "    mask = x > 0\n    return x * mask, mask",
     "    mask = (x > 0) & (np.random.random(x.shape) > 0.5)\n    return x * mask * 2, mask * 2"),
])
def test_a_forward_with_random_numbers_is_named_not_deterministic(tmp_path, function, old,
                                                                  new):
    # T5-15: noise was a bare "wrong forward"; dropout folded into relu_forward passed it
    # (by the luck of the draw) and failed relu_backward.
    grades = _graded(tmp_path, old, new)
    assert grades[function].status.startswith("wrong forward: not deterministic: two calls")
    assert "random numbers (noise, dropout)?" in grades[function].status
    assert sum(not g.passed for g in grades.values()) == 2  # the function and its pair


@pytest.mark.parametrize("old, new, words", [
    ("    m_hat = m / (1 - beta1**t)\n", "    m_hat = m\n", "only v is bias-corrected"),
    ("    v_hat = v / (1 - beta2**t)\n", "    v_hat = v / (1 - beta2**(t + 1))\n", None),
])
def test_adam_bias_correction_slips_are_named(tmp_path, old, new, words):
    # T5-15: every bias-correction slip was "wrong update: p after step 1".
    source = exercises.student_source(solutions=True)
    start = source.index("def adam_step(")
    body = source[start:]
    assert old in body, body[:1500]
    both = body.replace(old, new, 1)
    if words is None:  # t + 1 in both corrections
        both = both.replace("    m_hat = m / (1 - beta1**t)\n",
                            "    m_hat = m / (1 - beta1**(t + 1))\n", 1)
        words = "the bias correction with t + 1"
    (tmp_path / "backprop.py").write_text(source[:start] + both)
    grades = {g.function: g for g in exercises.grade(
        exercises.load_student(tmp_path / "backprop.py"), only=["adam_step"])}
    assert grades["adam_step"].status.startswith("wrong update: p after step 1")
    assert words in grades["adam_step"].status


def test_a_pair_that_keeps_state_outside_its_cache_is_named(tmp_path):
    # T5-10: dense_forward kept x in a global; every check passed and training blamed Adam.
    source = exercises.student_source(solutions=True)
    old_forward = "    out = x @ W + b\n    return out, (x, W)"
    assert old_forward in source
    source = source.replace(old_forward, "    _SAVED['x'] = x\n    out = x @ W + b\n"
                            "    return out, W", 1)
    old_backward = "    x, W = cache\n"
    assert old_backward in source
    source = source.replace(old_backward, "    x, W = _SAVED['x'], cache\n", 1) + "\n_SAVED = {}\n"
    (tmp_path / "backprop.py").write_text(source)
    grades = {g.function: g for g in exercises.grade(
        exercises.load_student(tmp_path / "backprop.py"), only=["dense_forward"])}
    assert grades["dense_forward"].status == "correct"
    assert "the backward must use only its cache" in grades["dense_backward"].status
    # The library's own pairs, and the key's, pass it.
    key = tmp_path / "key"
    key.mkdir()
    (key / "backprop.py").write_text(exercises.student_source(solutions=True))
    assert all(g.passed for g in exercises.grade(exercises.load_student(key / "backprop.py")))


def test_the_tiny_batch_sanity_check_catches_the_classic_slips(monkeypatch, capsys):
    # T5-18: overfitting alone passed with 4 of 5 classic gradient bugs.
    from numpy_sae.nn import functional as F
    from numpy_sae.nn import optim
    from numpy_sae.teaching import assignment
    monkeypatch.setattr(assignment, "_draw", lambda *a, **k: None)

    def no_bias_correction(p, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        m[...] = beta1 * m + (1 - beta1) * g
        v[...] = beta2 * v + (1 - beta2) * g ** 2
        p -= lr * m / (np.sqrt(v) + eps)

    def db_averaged(params, x, y, gamma):
        loss, grads = F.joint_network_loss(params, x, y, gamma)
        return loss, {**grads, "encoder.0.b": grads["encoder.0.b"] / len(x)}
    verdicts = []
    for loss, step in ((F.joint_network_loss, optim.adam_step),
                       (F.joint_network_loss, no_bias_correction),
                       (db_averaged, optim.adam_step)):
        capsys.readouterr()
        assignment.overfit_tiny_batch(loss, step)
        verdicts.append(capsys.readouterr().out)
    assert verdicts[0].startswith("right: gradients agree")
    assert "look at adam_step (its bias correction?)" in verdicts[1]
    assert "the gradient of encoder.0.b disagrees" in verdicts[2]


def test_the_notebook_check_names_the_cell_line_and_gives_more_hints(capsys):
    # T5-17: the in-notebook check named no line, and gave hint 1 only.
    import linecache

    from numpy_sae.teaching.assignment import check
    cell = ("import numpy as np\n\ndef dense_forward(x, W, b):\n"
            "    return x @ W + b[:2], (x, W)\n\n"
            "def dense_backward(dout, cache, need_dx=True):\n"
            "    raise NotImplementedError\n")
    filename = "/tmp/ipykernel_4242/1234567.py"  # how Jupyter names a cell's code
    linecache.cache[filename] = (len(cell), None, cell.splitlines(True), filename)
    namespace = {}
    exec(compile(cell, filename, "exec"), namespace)
    assert not check(namespace["dense_forward"], namespace["dense_backward"], hints=2)
    out = capsys.readouterr().out
    assert "(your cell, line 4, in dense_forward: return x @ W + b[:2], (x, W))" in out
    assert "2. x (N, D_in) @ W (D_in, D_out)" in out


@pytest.mark.parametrize("old, new, words", [
    ("    out = np.tanh(x)\n", "    out = np.tanh(x.astype(np.float32))\n",
     "returns float32 for float64 inputs"),
    ("    out = x @ W + b\n    return out, (x, W)",
     "    out = np.dot(x, W, out=np.empty((len(x), W.shape[1]))) + b\n    return out, (x, W)",
     "with float32 inputs, as in training, it raises ValueError"),
])
def test_a_forward_that_changes_the_dtype_is_named_and_its_backward_is_not_blamed(
        tmp_path, old, new, words):
    # T5-09: a float32 tanh_forward passed, and the library's own backward was "wrong".
    grades = _graded(tmp_path, old, new)
    function = "tanh" if "tanh" in old else "dense"
    assert words in grades[f"{function}_forward"].status
    assert grades[f"{function}_backward"].status == grades[f"{function}_forward"].status or \
        "wrong gradient" not in grades[f"{function}_backward"].status


def test_a_print_in_a_forward_is_shown_once_with_its_count(tmp_path):
    # T5-20: print() in dense_forward repeated 60+ times, once per numerical-gradient call.
    grades = _graded(tmp_path, "    out = x @ W + b\n    return out, (x, W)",
                     "    print('shape', x.shape)\n    out = x @ W + b\n    return out, (x, W)")
    printed = grades["dense_forward"].output
    assert printed.count("shape (4, 5)") == 1
    # It was shown under dense_backward too, which printed nothing.
    assert grades["dense_backward"].output == ""
    assert "more times: the gradient check calls your forward once per entry" in printed


def test_the_bundle_ships_no_editor_leftovers(tmp_path):
    # T5-25: backups, .ipynb_checkpoints and the like went into the autograder zip.
    import zipfile
    from pathlib import Path

    from numpy_sae.commands import gradescope
    from numpy_sae.commands.gradescope import _shipped
    for leftover in ("data/x.py~", "teaching/.ipynb_checkpoints/a.py", "nn/#model.py#",
                     "nn/model.py.orig", "nn/.model.py.swp", "__pycache__/a.pyc"):
        assert not _shipped(Path(leftover)), leftover
    assert _shipped(Path("teaching/exercises.py")) and _shipped(Path("data/splits/test.txt"))
    gradescope.write_bundle(tmp_path / "a.zip", log=lambda line: None)
    names = zipfile.ZipFile(tmp_path / "a.zip").namelist()
    assert "numpy_sae_source/numpy_sae/teaching/exercises.py" in names
    assert not any("__pycache__" in n or n.endswith("~") for n in names)


def test_the_table_shows_each_functions_weight(tmp_path, capsys):
    # T5-23: a function worth 4 points read "1 / 1"; one function read "1 of 1 functions".
    folder = tmp_path / "w"
    assert main(["exercises", "key", str(folder)]) == 0
    from numpy_sae.commands.exercises import run_check
    capsys.readouterr()
    assert run_check(folder, only=["adam_step"], points={"adam_step": 4})
    out = capsys.readouterr().out
    assert any(line.startswith("adam_step") and "  4 / 4  " in line for line in out.splitlines())
    assert out.rstrip().endswith("1 of 1 function correct")


def test_an_unstable_softmax_shows_no_tiny_error_beside_its_nan(tmp_path):
    # T5-21: "max rel err 2.0e-16" stood next to "wrong forward: NaN or inf ...".
    grades = _graded(tmp_path, "    shifted = logits - logits.max(axis=1, keepdims=True)\n"
                     "    probs = np.exp(shifted)", "    shifted = logits\n    probs = np.exp(shifted)")
    softmax = grades["softmax_forward"]
    assert "NaN or inf for logits of +-1000" in softmax.status
    assert softmax.error is None or not softmax.error < 1e-6


def test_a_shape_slip_gets_the_shapes_hint_and_dlogits_its_own(tmp_path):
    # T5-21: db with keepdims=True got the rule about summing over rows; a wrong dlogits
    # got the forward's rule.
    grades = _graded(tmp_path, "    return dx, x.T @ dout, dout.sum(axis=0)\n",
                     "    return dx, x.T @ dout, dout.sum(axis=0, keepdims=True)\n")
    dense = grades["dense_backward"]
    assert "wrong gradient: db: shape (1, 3), expected (3,)" in dense.status
    assert exercises.first_hint(dense) == exercises.STEP_HINTS["dense_backward"][1]
    wrong = exercises.Grade("softmax_cross_entropy", "wrong gradient: dlogits", 0.5,
                            exercises.HINTS["softmax_cross_entropy"])
    assert "through its probability" in exercises.first_hint(wrong)
