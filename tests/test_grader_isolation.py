"""The grader decides every grade in its own process: the student's code runs in another
one, which hands back values only (round 5: T5-04, T5-16, W3, W4)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from numpy_sae.commands.cli import main
from numpy_sae.teaching import exercises
from numpy_sae.teaching.remote import GradingLost, RemoteStudent, StudentError
from numpy_sae.teaching.student_process import (
    UNCHANGED,
    decode,
    encode,
    message_bytes,
    read_message,
)


def _key(tmp_path, name="hw"):
    folder = tmp_path / name
    main(["exercises", "key", str(folder)])
    return folder, (folder / "backprop.py").read_text()


def _check_json(folder, capsys, *options):
    capsys.readouterr()
    main(["exercises", "check", str(folder), "--json", *options])
    return json.loads(capsys.readouterr().out)


# ----- forgeries ---------------------------------------------------------------------------
def test_the_five_line_forgery_scores_nothing(tmp_path, capsys):
    """T5-04: a file with no functions that replaces the grader's own code scored 27/27."""
    folder = tmp_path / "forge"
    folder.mkdir()
    (folder / "backprop.py").write_text(
        "import numpy_sae.teaching.exercises as E\n"
        "import numpy_sae.commands.exercises as C\n"
        "E.grade = lambda student, seed=0, only=None, on_forward=None: [\n"
        "    E.Grade(n, 'correct', 0.0, '') for _, n in E.GRADED]\n"
        "C.train_with_student = lambda student, **k: (10.0, 1.0, 1.0, 0.5)\n")
    report = _check_json(folder, capsys)
    assert report["score"] == 0
    assert all(row["status"] == "not started" for row in report["functions"])
    assert report["training"]["learns"] is False


def test_patching_numpy_in_the_students_file_does_not_hide_a_wrong_function(tmp_path, capsys):
    """W3: np.abs (or np.max) made every comparison 0 in the process that compared."""
    for patch in ("np.abs = lambda v: 0 * np.asarray(v)", "np.max = lambda *a, **k: 0.0"):
        folder, source = _key(tmp_path, f"hw{len(patch)}")
        source = source.replace("import numpy as np", f"import numpy as np\n{patch}", 1)
        source = source.replace("    out = x @ W + b\n    return out, (x, W)",
                                "    out = x @ W * 3 - 7\n    return out, (x, W)", 1)
        (folder / "backprop.py").write_text(source)
        rows = {r["function"]: r for r in _check_json(folder, capsys, "--only",
                                                      "dense_forward")["functions"]}
        assert rows["dense_forward"]["status"] == "wrong forward"
        assert rows["dense_forward"]["points"] == 0


def test_numpy_saes_functions_are_not_in_the_students_process(tmp_path, capsys):
    """T5-16: functions taken from sys.modules at import time scored 27/27; the student's
    process has no numpy_sae loaded, so the file does not import."""
    folder = tmp_path / "imp"
    folder.mkdir()
    (folder / "backprop.py").write_text(
        "import sys\nF = sys.modules['numpy_sae.nn.functional']\n"
        "def dense_forward(x, W, b):\n    return F.dense_forward(x, W, b)\n")
    report = _check_json(folder, capsys)
    assert report["score"] == 0
    assert "does not import" in report["error"] and "KeyError" in report["error"]


@pytest.mark.parametrize("route", [
    # W4: __import__ got past the refusal
    "F = __import__('numpy_sae.nn.functional', fromlist=['x'])\n",
    "import importlib\nF = importlib.import_module('numpy_sae.nn.functional')\n",
    # the library's file loaded under another name
    "import importlib.util, numpy, os\n"
    "_spec = importlib.util.spec_from_file_location('mine', {path!r})\n"
    "F = importlib.util.module_from_spec(_spec)\n_spec.loader.exec_module(F)\n",
])
def test_loading_numpy_sae_by_any_route_is_refused(tmp_path, capsys, route):
    import numpy_sae.nn.functional as library
    folder, source = _key(tmp_path)
    route = route.format(path=library.__file__)
    borrowed = ("\ndef dense_forward(x, W, b):\n    return F.dense_forward(x, W, b)\n"
                "\ndef dense_backward(dout, cache, need_dx=True):\n"
                "    return F.dense_backward(dout, cache)\n")
    (folder / "backprop.py").write_text(source + "\n" + route + borrowed)
    rows = {r["function"]: r for r in _check_json(folder, capsys, "--only",
                                                  "dense_forward")["functions"]}
    for name in ("dense_forward", "dense_backward"):
        assert rows[name]["status"].startswith("not accepted: it calls numpy_sae's own code")
        assert rows[name]["points"] == 0


def test_loading_numpy_sae_while_a_function_runs_refuses_that_function(tmp_path, capsys):
    folder, source = _key(tmp_path)
    (folder / "backprop.py").write_text(
        source + "\n\ndef relu_forward(x):\n"
        "    F = __import__('numpy_sae.nn.functional', fromlist=['x'])\n"
        "    return F.relu_forward(x)\n")
    rows = {r["function"]: r for r in _check_json(folder, capsys, "--only",
                                                  "relu_forward,dense_forward")["functions"]}
    assert rows["relu_forward"]["status"].startswith("not accepted")
    assert rows["dense_forward"]["status"] == "correct"  # the file's other work still counts


def test_the_students_process_has_no_grader_to_replace(tmp_path):
    folder, source = _key(tmp_path)
    (folder / "backprop.py").write_text(
        source + "\n\ndef probe():\n    import sys\n"
        "    return sorted(k for k in sys.modules if k.split('.')[0] == 'numpy_sae')\n")
    with RemoteStudent(folder / "backprop.py", graded=["probe"]) as student:
        student.start()
        student.begin_unit()
        assert student.probe() == []


# ----- what goes between the processes ---------------------------------------------------
def test_values_go_back_and_forth_as_data():
    values = [np.arange(6, dtype=np.float32).reshape(2, 3), np.float64(2.5), 3, "s", None,
              (np.ones(2, dtype=bool), [1.0, {"k": np.int64(7)}])]
    blobs = []
    data = encode(values, blobs)
    header, back = read_message(None, _reader(message_bytes({"values": data}, blobs)))
    decoded = decode(header["values"], back)
    assert decoded[0].dtype == np.float32 and np.array_equal(decoded[0], values[0])
    assert decoded[1] == 2.5 and isinstance(decoded[1], np.float64)
    assert decoded[2:5] == [3, "s", None]
    assert isinstance(decoded[5], tuple) and decoded[5][1][1]["k"] == 7
    assert decoded[0].flags.writeable
    with pytest.raises(TypeError):
        encode(object(), [])
    assert decode(UNCHANGED, []) is None


@pytest.mark.parametrize("data, blobs", [
    ({"$a": [0, "|O", [1]]}, [b"\0" * 8]),        # an object array: never unpickled
    ({"$a": [0, "<f8", [3]]}, [b"\0" * 8]),        # bytes that are not its shape
    ({"$a": [5, "<f8", [1]]}, [b"\0" * 8]),        # no such blob
    ({"$x": 1}, []),                               # no such kind
    ({"$r": 1}, []),                               # a reference where none are taken
])
def test_a_message_it_does_not_describe_is_refused(data, blobs):
    with pytest.raises(ValueError):
        decode(data, blobs)


def _reader(data):
    view = memoryview(data)
    position = [0]

    def read(size):
        chunk = view[position[0]:position[0] + size]
        position[0] += size
        if len(chunk) < size:
            raise EOFError
        return bytes(chunk)
    return read


def test_a_cache_of_the_students_own_kind_stays_in_its_process(tmp_path):
    folder = tmp_path / "ns"
    folder.mkdir()
    (folder / "backprop.py").write_text(
        "import types\nimport numpy as np\n"
        "def dense_forward(x, W, b):\n"
        "    return x @ W + b, types.SimpleNamespace(x=x, W=W)\n"
        "def dense_backward(dout, cache, need_dx=True):\n"
        "    return dout @ cache.W.T, cache.x.T @ dout, dout.sum(axis=0)\n")
    with RemoteStudent(folder / "backprop.py", graded=["dense_forward", "dense_backward"]) \
            as student:
        student.start()
        grades = {g.function: g for g in exercises.grade(student, only=["dense_forward"])}
    assert grades["dense_forward"].passed and grades["dense_backward"].passed


def test_an_in_place_change_reaches_the_callers_array(tmp_path):
    folder, _ = _key(tmp_path)
    with RemoteStudent(folder / "backprop.py", graded=["adam_step"]) as student:
        student.start()
        student.begin_unit()
        p, g = np.ones(3), np.full(3, 0.5)
        m, v = np.zeros(3), np.zeros(3)
        student.adam_step(p, g, m, v, 1, 0.1, 0.9, 0.999, 1e-8)
    assert np.allclose(p, 0.9) and np.allclose(m, 0.05) and np.all(v > 0)
    assert np.array_equal(g, np.full(3, 0.5))


def test_errors_come_back_as_their_kind_with_the_students_line(tmp_path):
    folder, source = _key(tmp_path)
    (folder / "backprop.py").write_text(
        source + "\n\ndef tanh_forward(x):\n    raise NotImplementedError\n"
        "\n\ndef relu_forward(x):\n    return x + undefined_name\n")
    with RemoteStudent(folder / "backprop.py", graded=["tanh_forward", "relu_forward"]) \
            as student:
        student.start()
        student.begin_unit()
        with pytest.raises(NotImplementedError):
            student.tanh_forward(np.ones(2))
        with pytest.raises(NameError) as caught:
            student.relu_forward(np.ones(2))
    assert isinstance(caught.value, StudentError)
    text = exercises.describe_error(caught.value, folder / "backprop.py")
    assert text.startswith("NameError: name 'undefined_name' is not defined (backprop.py, line")
    assert "in relu_forward: return x + undefined_name" in text


def test_a_function_past_its_time_is_lost_and_the_next_unit_starts_afresh(tmp_path):
    folder, source = _key(tmp_path)
    (folder / "backprop.py").write_text(source + "\n\ndef tanh_forward(x):\n    while True:\n"
                                        "        pass\n")
    with RemoteStudent(folder / "backprop.py", time_limit=1.0,
                       graded=["tanh_forward", "relu_forward"]) as student:
        student.start()
        student.begin_unit()
        with pytest.raises(GradingLost) as lost:
            student.tanh_forward(np.ones(2))
        assert lost.value.timed_out
        described = exercises.describe_error(lost.value, student)
        assert described.startswith("ran longer than 1 s (an endless loop?)")
        if os.name == "posix":
            assert "in tanh_forward: while True:" in described or "pass" in described
        student.begin_unit()
        out, _ = student.relu_forward(np.array([-1.0, 2.0]))
    assert np.array_equal(out, [0.0, 2.0])


# ----- who the student's code runs as ----------------------------------------------------
def test_the_results_say_how_the_students_code_ran(tmp_path, capsys):
    folder, _ = _key(tmp_path)
    results = tmp_path / "results.json"
    main(["exercises", "check", str(folder), "--only", "dense_forward", "--results",
          str(results)])
    content = json.loads(results.read_text())
    with RemoteStudent(folder / "backprop.py") as student:
        student.start()
        isolation = student.isolation
    if "ran as the user 'nobody'" in isolation:
        assert "note for the instructor" not in content["output"]
    else:
        assert f"note for the instructor: {isolation}" in content["output"]


def _nobody_can_run_python():
    if os.name != "posix" or os.geteuid() != 0:
        return False
    try:
        return subprocess.run([sys.executable, "-I", "-c", "import numpy"], user="nobody",
                              capture_output=True, timeout=60).returncode == 0
    except (OSError, KeyError, subprocess.SubprocessError):
        return False


@pytest.mark.skipif(not _nobody_can_run_python(),
                    reason="needs root and a Python the user nobody may run")
def test_as_root_the_students_code_runs_as_nobody(tmp_path):
    folder, source = _key(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("the instructor's")
    secret.chmod(0o600)
    (folder / "backprop.py").write_text(
        source + f"\n\ndef probe():\n    import os\n    try:\n"
        f"        open({str(secret)!r}).read()\n        readable = True\n"
        f"    except OSError:\n        readable = False\n"
        f"    return os.getuid(), readable\n")
    with RemoteStudent(folder / "backprop.py", graded=["probe"]) as student:
        student.start()
        student.begin_unit()
        uid, readable = student.probe()
        assert "ran as the user 'nobody'" in student.isolation
    import pwd
    assert uid == pwd.getpwnam("nobody").pw_uid and not readable


def test_a_user_who_cannot_start_python_is_named_and_grading_goes_on(tmp_path, monkeypatch):
    # Python 3.10 built with a shared libpython under /root: the user nobody's process
    # ended (exit 127) before it read the student's file, and the student was told "your
    # code ended the grading process (sys.exit or os._exit?)".
    from numpy_sae.teaching import remote
    unstartable = tmp_path / "python"
    unstartable.write_text("#!/bin/sh\necho 'python: error while loading shared libraries: "
                           "libpython3.10.so.1.0' >&2\nexit 127\n")
    unstartable.chmod(0o755)
    started = remote.StudentProcess

    class AsAnotherUser(started):
        def __init__(self, memory_limit_mb, folder, user=(None, None)):
            if user[0] is None:
                return started.__init__(self, memory_limit_mb, folder)
            with monkeypatch.context() as patched:
                patched.setattr(remote.sys, "executable", str(unstartable))
                started.__init__(self, memory_limit_mb, folder)
    monkeypatch.setattr(remote, "StudentProcess", AsAnotherUser)
    folder, _ = _key(tmp_path)
    with RemoteStudent(folder / "backprop.py", graded=["tanh_forward"]) as student:
        student._user = (65534, 65534)  # as the grader would, running as root
        student.start()
        student.begin_unit()
        out, _ = student.tanh_forward(np.zeros(3))
        np.testing.assert_allclose(out, np.zeros(3))
        assert "cannot start" in student.isolation
        assert "exit status 127; python: error while loading shared libraries" in \
            student.isolation


def test_polling_stops_where_it_does_not_pay_and_comes_back_where_it_does():
    # On one CPU a reader's poll only kept the other process off it: grading the key took
    # 8.1 s there with a fixed 0.5 ms poll per wait, 5.7 s with this one.
    from numpy_sae.teaching.student_process import SPIN, Poll
    poll = Poll()
    windows = []
    for _ in range(64):
        windows.append(poll.seconds())
        if windows[-1]:
            poll.ended(False)  # the message came only after the reader slept
    assert windows[:3] == [SPIN] * 3 and 0 < windows.count(SPIN) < 10
    assert all(w == SPIN for i, w in enumerate(windows, 1) if i > 10 and i % 32 == 0)
    for _ in range(32):  # the other process now answers within the polls
        if poll.seconds():
            poll.ended(True)
    assert poll.seconds() == SPIN and Poll(0.0).seconds() == 0.0


def test_the_library_functions_of_the_network_check_cannot_be_kept_for_later(tmp_path):
    # During the whole network's check the student's functions are the library's, defined
    # in the student's process from their source; one kept then and called later is a call
    # of numpy_sae's code.
    folder, source = _key(tmp_path)
    source = source.replace("def joint_network_loss(params, x, y, gamma):",
                            "def joint_network_loss(params, x, y, gamma):\n"
                            "    _KEPT.append(dense_forward)", 1)
    source = source.replace("    out = x @ W + b\n    return out, (x, W)",
                            "    if _KEPT:\n        return _KEPT[0](x, W, b)\n"
                            "    return x @ W * 3, (x, W)", 1)
    (folder / "backprop.py").write_text(source + "\n_KEPT = []\n")
    names = [n for _, n in exercises.GRADED + exercises.PROVIDED]
    with RemoteStudent(folder / "backprop.py", graded=names) as student:
        student.start()
        first = {g.function: g.status for g in exercises.grade(student)}
        again = {g.function: g.status for g in exercises.grade(student,
                                                              only=["dense_forward"])}
    assert first["dense_forward"] == "wrong forward" and first["joint_network_loss"] == \
        "correct"
    assert again["dense_forward"].startswith("not accepted: it calls numpy_sae's own code")
