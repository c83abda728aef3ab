"""The backprop exercises: the student file, the grader, and the planted bugs."""

import ast

import pytest

from numpy_sae.commands.cli import main
from numpy_sae.teaching import exercises


def write(tmp_path, name, **kw):
    folder = tmp_path / name
    folder.mkdir()
    (folder / exercises.FILE_NAME).write_text(exercises.student_source(**kw))
    return exercises.load_student(folder / exercises.FILE_NAME)


def test_init_writes_a_stub_for_every_graded_function(tmp_path, capsys):
    assert main(["exercises", "init", str(tmp_path / "st")]) == 0
    source = (tmp_path / "st" / exercises.FILE_NAME).read_text()
    tree = ast.parse(source)
    functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    for _, name in exercises.GRADED:
        body = functions[name].body
        assert ast.get_docstring(functions[name])  # docstring, shapes and formulas kept
        assert len(body) == 2 and isinstance(body[1], ast.Raise)
        assert "NotImplementedError" in ast.unparse(body[1])
    student = exercises.load_student(tmp_path / "st" / exercises.FILE_NAME)
    for _, name in exercises.GRADED:
        with pytest.raises(NotImplementedError):
            getattr(student, name)(*([None] * getattr(student, name).__code__.co_argcount))
    assert main(["exercises", "init", str(tmp_path / "st")]) == 1  # never replaces work
    assert "already exists" in capsys.readouterr().err


def test_check_reports_not_started_for_all(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative folder, as a student types it
    assert main(["exercises", "init", "st"]) == 0
    assert main(["exercises", "check", "st"]) == 1
    grades = exercises.grade(exercises.load_student(tmp_path / "st" / exercises.FILE_NAME))
    assert {g.status for g in grades} == {"not started"}
    assert f"0 of {len(exercises.GRADED)} functions correct" in capsys.readouterr().out


# The key passing every check and training is tested through the Gradescope bundle
# (test_gradescope), which runs this same grader on the key notebook.


@pytest.mark.parametrize("bug, function, status", [
    ("tanh-derivative", "tanh_backward", "wrong gradient: dx"),
    ("code-sum", "fanout_backward", "wrong gradient: dx"),
    ("batch-mean", "softmax_cross_entropy", "wrong gradient: dlogits"),
    ("bias-sum", "dense_backward", "wrong gradient: db"),
])
def test_each_planted_bug_is_found_where_it_is(tmp_path, bug, function, status):
    grades = {g.function: g for g in exercises.grade(write(tmp_path, "b", solutions=True,
                                                           bug=bug))}
    assert grades[function].status.startswith(status) and grades[function].error > 1e-2
    assert grades[function].hint
    assert [g.function for g in grades.values() if not g.passed] == [function]


def test_a_half_done_student_file(tmp_path):
    source = exercises.student_source(solutions=True)
    # Undo one forward: its backward cannot be checked, everything else still is.
    start = source.index("def relu_forward(")
    end = source.index("\ndef ", start + 1)
    stub = exercises.student_source().split("def relu_forward(")[1].split("\ndef ")[0]
    source = source[:start] + "def relu_forward(" + stub + source[end:]
    (tmp_path / exercises.FILE_NAME).write_text(source)
    grades = {g.function: g.status for g in
              exercises.grade(exercises.load_student(tmp_path / exercises.FILE_NAME))}
    assert grades["relu_forward"] == "not started"
    assert grades["relu_backward"].startswith("not checked")
    assert grades["tanh_backward"] == "correct"


def test_a_wrong_forward_and_a_broken_file(tmp_path, capsys):
    source = exercises.student_source(solutions=True).replace(
        "    out = np.tanh(x)\n", "    out = np.tanh(2 * x)\n")
    (tmp_path / exercises.FILE_NAME).write_text(source)
    grades = {g.function: g.status for g in
              exercises.grade(exercises.load_student(tmp_path / exercises.FILE_NAME))}
    assert grades["tanh_forward"] == "wrong forward"
    assert grades["tanh_backward"] == "not checked until its forward is right"
    (tmp_path / exercises.FILE_NAME).write_text("def oops(:\n")
    assert main(["exercises", "check", str(tmp_path)]) == 1
    assert "does not import: SyntaxError" in capsys.readouterr().err


def test_break_needs_solutions(tmp_path, capsys):
    assert main(["exercises", "init", str(tmp_path / "x"), "--break", "code-sum"]) == 2
    assert "numpy-sae exercises key DIR --break BUG" in capsys.readouterr().err
    assert main(["exercises", "key", str(tmp_path / "demo"), "--break", "code-sum"]) == 0
    student_file = (tmp_path / "x2")
    assert main(["exercises", "init", str(student_file)]) == 0
    text = (student_file / exercises.FILE_NAME).read_text()
    assert "key" not in text.lower().split('"""')[1]  # the student's header never points at it


@pytest.mark.parametrize("correct, wrong, status", [
    # Forgetting that each frame holds only 1/T of the mean: the path and the factor named.
    ("dx = (dmu / T)[:, None, :]", "dx = dmu[:, None, :]",
     "wrong gradient: dx through the mean: T = 5 times the expected value (a missing 1/T?)"),
    # Dividing the deviation by s twice over, a derivation slip.
    ("centered * (ds / (T * s))[:, None, :]", "centered * (ds / (T * s * s))[:, None, :]",
     "wrong gradient: dx through the std"),
])
def test_the_pooling_exercise_names_a_wrong_backward(tmp_path, correct, wrong, status):
    source = exercises.student_source(solutions=True)
    assert correct in source
    folder = tmp_path / "pool"
    folder.mkdir()
    (folder / exercises.FILE_NAME).write_text(source.replace(correct, wrong, 1))
    grades = {g.function: g for g in exercises.grade(
        exercises.load_student(folder / exercises.FILE_NAME))}
    assert grades["meanstd_pool_forward"].status == "correct"
    assert grades["meanstd_pool_backward"].status == status
    assert "dmu / T" in grades["meanstd_pool_backward"].hint
    assert all(g.passed for name, g in grades.items() if not name.startswith("meanstd_pool"))


def graded(tmp_path, replacements, name="s"):
    """Grade the solutions with some text replaced: {function: Grade}."""
    source = exercises.student_source(solutions=True)
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new, 1)
    folder = tmp_path / name
    folder.mkdir()
    (folder / exercises.FILE_NAME).write_text(source)
    return {g.function: g for g in exercises.grade(
        exercises.load_student(folder / exercises.FILE_NAME))}


def body_of(name):
    source = exercises.student_source(solutions=True)
    start = source.index(f"def {name}(")
    end = source.find("\ndef ", start + 1)
    return source[start:end if end > 0 else len(source)]


def test_an_unstable_softmax_and_cross_entropy_are_caught(tmp_path):
    softmax = body_of("softmax_forward")
    plain = softmax[:softmax.index('    """', 30) + 8] + (
        "    e = np.exp(logits)\n    out = e / e.sum(axis=1, keepdims=True)\n"
        "    return out, out\n")
    grades = graded(tmp_path, [(softmax, plain)])
    assert "NaN or inf for logits of +-1000" in grades["softmax_forward"].status
    assert grades["softmax_forward"].error is not None


def test_wrong_shapes_are_named(tmp_path):
    grades = graded(tmp_path, [("return dx, x.T @ dout", "return dx, dout.T @ x")])
    assert grades["dense_backward"].status == "wrong gradient: dW: shape (3, 5), expected (5, 3)"


def test_changing_an_input_in_place_is_named_as_such(tmp_path):
    tanh = body_of("tanh_backward")
    in_place = tanh.replace(tanh[tanh.index("    out = cache"):],
                            "    out = cache\n    dout *= 1 - out ** 2\n    return dout\n")
    grades = graded(tmp_path, [(tanh, in_place)])
    # Right values from copies: it passes, with the same note for every function.
    assert grades["tanh_backward"].passed
    assert "your function changed its input dout in place" in grades["tanh_backward"].notes
    adam = body_of("adam_step")
    step = "    p -= lr * m_hat / (np.sqrt(v_hat) + eps)"
    assert step in adam
    grades = graded(tmp_path, [(adam, adam.replace(step, step.replace("p -=", "p = p -")))],
                    "adam")
    assert grades["adam_step"].status.startswith("p must be updated in place")
    # Adam changing its gradient in place: right values, the same note as everywhere.
    grades = graded(tmp_path, [("    m[...] = beta1 * m + (1 - beta1) * g\n",
                                "    g[...] = np.round(g, 12)  # values kept, bits changed\n"
                                "    m[...] = beta1 * m + (1 - beta1) * g\n")], "adam_g")
    assert "changed its input g in place" in grades["adam_step"].notes
    # Rebinding m gets the same message as rebinding p (teaching audit 1.6e).
    moment = "    m[...] = beta1 * m + (1 - beta1) * g"
    grades = graded(tmp_path, [(moment, moment.replace("m[...]", "m"))], "adam_m")
    assert grades["adam_step"].status.startswith("m must be updated in place")
    # A ReLU forward that zeroes x itself: right values, but x is the previous layer's output.
    grades = graded(tmp_path, [("    mask = x > 0\n    return x * mask, mask",
                                "    mask = x > 0\n    x[~mask] = 0\n    return x, mask")], "relu")
    assert grades["relu_forward"].passed
    assert "changed its input x in place" in grades["relu_forward"].notes
    # Wrong values and an input changed in place: the change is named with the cause.
    grades = graded(tmp_path, [("    return dout * cache\n",
                                "    dout *= cache\n    return dout * 2\n")], "relu2")
    status = grades["relu_backward"].status
    assert status.startswith("wrong gradient: dx: off by a factor 2") and \
        "changed its input dout in place" in status


def test_an_unstable_cross_entropy_is_caught(tmp_path):
    loss = body_of("softmax_cross_entropy")
    naive = loss.replace("    log_probs = log_softmax(logits)\n",
                         "    e = np.exp(logits)\n    log_probs = np.log(e / e.sum(axis=1, "
                         "keepdims=True))\n")
    assert naive != loss
    grades = graded(tmp_path, [(loss, naive)])
    assert "NaN or inf for logits of +-1000" in grades["softmax_cross_entropy"].status


def test_an_adam_step_without_its_eps_argument_is_named(tmp_path):
    grades = graded(tmp_path, [("beta2=0.999, eps=1e-8):", "beta2=0.999):")])
    assert grades["adam_step"].status.startswith("wrong signature: missing argument eps")


def test_only_a_real_stub_is_not_started(tmp_path):
    relu = body_of("relu_forward")
    commented = relu.rstrip("\n") + "\n    # raise NotImplementedError was here\n"
    grades = graded(tmp_path, [(relu, commented)])
    assert grades["relu_forward"].status == "correct"


def test_a_missing_argument_is_named(tmp_path):
    grades = graded(tmp_path, [("def dense_backward(dout, cache, need_dx=True):",
                                "def dense_backward(dout, cache):")])
    assert grades["dense_backward"].status.startswith("wrong signature: missing argument need_dx")
    assert not grades["dense_backward"].passed


def test_a_done_forward_counts_while_its_backward_is_a_stub(tmp_path):
    backward = body_of("tanh_backward")
    stub = exercises.student_source().split("def tanh_backward(")[1].split("\ndef ")[0]
    grades = graded(tmp_path, [(backward, "def tanh_backward(" + stub.rstrip("\n") + "\n")])
    assert grades["tanh_forward"].status == "correct"
    assert grades["tanh_backward"].status == "not started"
    assert grades["tanh_backward"].error is None  # nothing compared, no figure


def test_a_nan_forward_says_so_and_the_table_keeps_whole_messages(tmp_path):
    grades = graded(tmp_path, [("    out = np.tanh(x)\n", "    out = np.tanh(x) * np.nan\n")])
    assert grades["tanh_forward"].status == "wrong forward: NaN or inf in the result"
    table = exercises.format_grades(list(grades.values()))
    assert "wrong forward: NaN or inf in the result" in table


def test_odd_folders_and_helper_modules(tmp_path):
    text = exercises.student_source(folder="C:\\Users\\alice\\N\\x")
    compile(text, "backprop.py", "exec")  # no \U or \N escapes in the header
    folder = tmp_path / "helpers"
    folder.mkdir()
    (folder / "mathhelp.py").write_text("import numpy as np\ndef t(x):\n    return np.tanh(x)\n")
    source = exercises.student_source(solutions=True).replace(
        "    out = np.tanh(x)\n", "    import mathhelp\n    out = mathhelp.t(x)\n")
    (folder / exercises.FILE_NAME).write_text(source)
    grades = exercises.grade(exercises.load_student(folder / exercises.FILE_NAME))
    assert all(g.passed for g in grades)


def test_machine_readable_results_for_an_autograder(tmp_path, capsys):
    import json
    source = exercises.student_source(solutions=True).replace("dout.sum(axis=0)",
                                                              "dout.mean(axis=0)", 1)
    (tmp_path / exercises.FILE_NAME).write_text(source)
    assert main(["exercises", "check", str(tmp_path), "--json", "--results",
                 str(tmp_path / "results.json")]) == 1
    report = json.loads(capsys.readouterr().out)
    rows = {r["function"]: r for r in report["functions"]}
    assert rows["dense_backward"]["status"] == ("wrong gradient: db: 1/N = 1/4 of the expected "
                                                "value (an extra 1/N?)")
    assert rows["dense_backward"]["points"] == 0 and rows["tanh_forward"]["points"] == 1
    assert report["score"] == report["max_score"] - 1
    gradescope = json.loads((tmp_path / "results.json").read_text())
    assert gradescope["score"] == report["score"]
    tests = {t["name"]: t for t in gradescope["tests"]}
    assert set(tests) == set(rows) | {"training with your functions"}
    assert all(tests[name]["max_score"] == 1 for name in rows)
    # Every test has a status: the training test that did not run is failed, not a green 0/0.
    assert tests["dense_backward"]["status"] == "failed" and \
        tests["tanh_forward"]["status"] == "passed"
    assert tests["training with your functions"]["status"] == "failed"
    assert "not run" in tests["training with your functions"]["output"]
    # --only grades one pair; an existing results file is not replaced without --force.
    assert main(["exercises", "check", str(tmp_path), "--only", "tanh_backward", "--results",
                 str(tmp_path / "results.json")]) == 1
    assert "results.json already exists" in capsys.readouterr().err
    assert main(["exercises", "check", str(tmp_path), "--only", "tanh_backward"]) == 0
    table = capsys.readouterr().out
    assert "tanh_forward" in table and "dense_backward" not in table
    assert main(["exercises", "check", str(tmp_path), "--only", "nope"]) == 2


def with_solutions(tmp_path, name, edit):
    folder = tmp_path / name
    folder.mkdir()
    (folder / exercises.FILE_NAME).write_text(edit(exercises.student_source(solutions=True)))
    return folder


@pytest.mark.parametrize("line, said", [("import sys; sys.exit(0)", "SystemExit"),
                                        ("raise SystemExit(0)", "SystemExit"),
                                        ("import os; os._exit(0)", "exit status 0"),
                                        ("while True:\n    pass", "ran longer than 1 s (an "
                                         "endless loop at the top level?) (backprop.py, "
                                         "line ")])
def test_a_file_that_exits_or_hangs_at_import_never_passes(tmp_path, capsys, line, said):
    folder = with_solutions(tmp_path, "exit", lambda s: s + f"\n{line}\n")
    assert main(["exercises", "check", str(folder), "--time-limit", "1"]) == 1
    err = capsys.readouterr().err
    assert "does not import" in err and said in err


def test_exits_endless_loops_and_patched_references_are_caught(tmp_path, capsys):
    def edit(source):
        # tanh_backward ends the process, relu_forward never returns, and the file
        # replaces the library's sigmoid with its own wrong one before grading.
        source = source.replace("    out = cache\n    dx = dout * (1.0 - out**2)",
                                "    import os; os._exit(0)\n    out = cache\n"
                                "    dx = dout * (1.0 - out**2)", 1)
        start = source.index("def relu_forward(")
        doc_end = source.index('"""', source.index('"""', start) + 3) + 3
        # One line, so the stack names the same line whenever it is taken.
        source = source[:doc_end] + "\n    while True: pass" + source[doc_end:]
        source = source.replace("def sigmoid_forward(x):", "def sigmoid_forward(x):\n"
                                "    return np.tanh(x), np.tanh(x)\n\n\ndef _unused(x):", 1)
        return source + ("\nimport numpy_sae.nn.functional as _F\n"
                         "_F.sigmoid_forward = sigmoid_forward\n")
    folder = with_solutions(tmp_path, "tricks", edit)
    # 2 s: every other unit must finish inside the same limit, also on a loaded machine.
    assert main(["exercises", "check", str(folder), "--json", "--time-limit", "2"]) == 1
    import json
    rows = {r["function"]: r for r in json.loads(capsys.readouterr().out)["functions"]}
    assert "ended the grading process" in rows["tanh_backward"]["status"]
    assert "ran longer than 2 s" in rows["relu_forward"]["status"]
    # The stack written just before the limit names the student's line that was running.
    assert "(backprop.py, line " in rows["relu_forward"]["status"] and \
        "in relu_forward: while True: pass)" in rows["relu_forward"]["status"]
    assert rows["sigmoid_forward"]["status"] == "wrong forward"   # against the real sigmoid
    assert rows["dense_backward"]["status"] == "correct"          # the rest is still graded


def test_the_derive_level_leaves_the_gradients_to_the_student(tmp_path, capsys):
    assert main(["exercises", "init", str(tmp_path / "d"), "--level", "derive"]) == 0
    source = (tmp_path / "d" / exercises.FILE_NAME).read_text()
    tree = ast.parse(source)
    docs = {f.name: ast.get_docstring(f) for f in tree.body if isinstance(f, ast.FunctionDef)}
    assert "x.T @ dout" not in docs["dense_backward"] and "(N, D_out)" in docs["dense_backward"]
    assert "1 - out**2" not in docs["tanh_backward"]
    assert "onehot" not in docs["softmax_cross_entropy"]
    assert "dmu / T" not in docs["meanstd_pool_backward"]
    assert "out = x @ W + b" in docs["dense_forward"]  # forward formulas stay
    student = exercises.load_student(tmp_path / "d" / exercises.FILE_NAME)
    assert {g.status for g in exercises.grade(student)} == {"not started"}


def test_hints_come_in_steps_and_a_first_failure_never_gives_the_formula(tmp_path, capsys):
    source = exercises.student_source(solutions=True).replace("dout.sum(axis=0)",
                                                              "dout.mean(axis=0)", 1)
    (tmp_path / exercises.FILE_NAME).write_text(source)
    assert main(["exercises", "check", str(tmp_path)]) == 1
    table = capsys.readouterr().out
    assert exercises.HINTS["dense_backward"] not in table
    assert "collects dout from every row" in table and "--hint 2 dense_backward" in table
    assert main(["exercises", "check", str(tmp_path), "--hint", "2", "dense_backward"]) == 0
    two = capsys.readouterr().out
    assert "2. dx has x's shape" in two and exercises.HINTS["dense_backward"] not in two
    assert main(["exercises", "check", str(tmp_path), "--hint", "3", "dense_backward"]) == 0
    assert exercises.HINTS["dense_backward"] in capsys.readouterr().out
    assert main(["exercises", "check", str(tmp_path), "--hint", "4", "dense_backward"]) == 2


@pytest.mark.parametrize("correct, wrong, status", [
    ("    dcode = fanout_backward(dcode_decoder, dcode_classifier)",
     "    dcode = dcode_decoder", "encoder.0.W holds only the decoder's part"),
    ("    dcode = fanout_backward(dcode_decoder, dcode_classifier)",
     "    dcode = dcode_classifier", "encoder.0.W holds only the classifier's part"),
    ("    da = tanh_backward(dcode, tanh_cache)", "    da = dcode", "wrong gradient: encoder.0.W"),
    ("loss, dx_hat, dlogits = joint_loss(reconstruction, dx_hat, cross_entropy, dlogits, gamma)",
     "loss, dx_hat, dlogits = joint_loss(reconstruction, dx_hat, cross_entropy, dlogits, 1.0)",
     "wrong forward"),
])
def test_the_whole_network_exercise_names_the_first_wrong_parameter(tmp_path, correct, wrong,
                                                                     status):
    grades = graded(tmp_path, [(correct, wrong)])
    assert status in grades["joint_network_loss"].status
    assert [name for name, g in grades.items() if not g.passed] == ["joint_network_loss"]


@pytest.mark.parametrize("function, body", [
    ("fanout_backward", "    dout_a += dout_b\n    return dout_a\n"),
    ("meanstd_pool_backward", "    centered, s, T = cache\n    K = s.shape[1]\n"
     "    dmu, ds = dout[:, :K], dout[:, K:]\n    dmu /= T\n    ds /= T * s\n"
     "    return centered * ds[:, None, :] + dmu[:, None, :]\n"),
])
def test_a_correct_backward_that_works_in_place_is_graded_right(tmp_path, function, body):
    # Teaching audit 1.2: the reference must come from pristine inputs, not the student's.
    from numpy_sae.teaching import exercises
    source = exercises.student_source(solutions=True)
    start = source.index(f"def {function}(")
    doc_end = source.index('"""', source.index('"""', start) + 3) + 3
    end = source.find("\ndef ", doc_end)
    source = source[:doc_end] + "\n" + body + source[end:]
    (tmp_path / "backprop.py").write_text(source)
    student = exercises.load_student(tmp_path / "backprop.py")
    grades = {g.function: g for g in exercises.grade(student, only=[function])}
    assert grades[function].passed, grades[function].status


@pytest.mark.parametrize("old, new, function, status", [
    # The classic factor slips, named from the constant ratio to the expected value.
    ("    dlogits = (np.exp(log_probs) - onehot) / n", "    dlogits = np.exp(log_probs) - onehot",
     "softmax_cross_entropy", "wrong gradient: dlogits: N = 5 times the expected value"),
    ("    dx_hat = 2.0 * (x_hat - x) / n", "    dx_hat = (x_hat - x) / n", "sum_squared_error",
     "wrong gradient: dx_hat: off by a factor 1/2"),
    ("    dx = dout @ W.T if need_dx else None", "    dx = -(dout @ W.T) if need_dx else None",
     "dense_backward", "wrong gradient: dx: off by the sign"),
])
def test_factor_slips_are_named(tmp_path, old, new, function, status):
    assert graded(tmp_path, [(old, new)])[function].status.startswith(status)


def test_classic_cross_entropy_slips_get_their_own_messages(tmp_path):
    loss = body_of("softmax_cross_entropy")
    # A shifted softmax, then log(p): the shift was done, the log is what fails.
    shifted = loss.replace("    log_probs = log_softmax(logits)\n",
                           "    e = np.exp(logits - logits.max(axis=1, keepdims=True))\n"
                           "    log_probs = np.log(e / e.sum(axis=1, keepdims=True))\n")
    status = graded(tmp_path, [(loss, shifted)])["softmax_cross_entropy"].status
    assert "log-sum-exp" in status and "subtract each row's maximum" not in status
    # log(p + 1e-12): right on ordinary logits, wrong on the +-1000 probe, which is named.
    epsilon = loss.replace("    log_probs = log_softmax(logits)\n",
                           "    e = np.exp(logits - logits.max(axis=1, keepdims=True))\n"
                           "    log_probs = np.log(e / e.sum(axis=1, keepdims=True) + 1e-12)\n")
    status = graded(tmp_path, [(loss, epsilon)], "eps")["softmax_cross_entropy"].status
    assert status.startswith("wrong forward for logits of +-1000 only (right on ordinary logits")


def test_a_forward_that_returns_only_out_is_told_so(tmp_path):
    grades = graded(tmp_path, [("    return x * mask, mask", "    return x * mask")])
    assert grades["relu_forward"].status == ("wrong forward: relu_forward must return "
                                             "(out, cache), it returned ndarray")
    assert grades["relu_backward"].status == "not checked until its forward is right"


def test_an_adam_step_that_ignores_lr_or_betas_is_caught(tmp_path):
    step = "    p -= lr * m_hat / (np.sqrt(v_hat) + eps)"
    status = graded(tmp_path, [(step, step.replace("lr *", "0.01 *"))])["adam_step"].status
    assert "with lr=0.003" in status and "it ignores lr" in status
    moment = "    m[...] = beta1 * m + (1 - beta1) * g"
    status = graded(tmp_path, [(moment, "    m[...] = 0.9 * m + (1 - 0.9) * g")],
                    "b")["adam_step"].status
    assert status.startswith("wrong update: m after step 1 with lr=0.003")


def test_a_file_that_calls_the_library_is_named(tmp_path):
    def edit(source):
        source = source.replace("import numpy as np\n", "import numpy as np\n\n"
                                "from numpy_sae.nn import functional as F\n"
                                "from numpy_sae.nn.functional import tanh_forward as _tanh\n", 1)
        source = source.replace("    out = x @ W + b\n    return out, (x, W)",
                                "    return F.dense_forward(x, W, b)", 1)
        return source.replace("    out = np.tanh(x)\n", "    out = _tanh(x)[0]\n", 1)
    folder = with_solutions(tmp_path, "lib", edit)
    grades = {g.function: g for g in exercises.grade(
        exercises.load_student(folder / exercises.FILE_NAME))}
    assert grades["dense_forward"].status.startswith(
        "not accepted: it calls numpy_sae's own code (F)")
    assert grades["tanh_forward"].status.startswith("not accepted") and \
        "(_tanh)" in grades["tanh_forward"].status
    assert grades["dense_backward"].passed


def test_errors_name_the_students_line_and_printed_output_is_shown(tmp_path, capsys):
    def edit(source):
        source = source.replace("    p = cache\n    return p * (dout - np.sum(dout * p, axis=1, "
                                "keepdims=True))",
                                "    p = cache\n    print('p is', p.shape)\n"
                                "    return p * (dout - np.sum(dout * p, axis=1))", 1)
        return source
    folder = with_solutions(tmp_path, "err", edit)
    assert main(["exercises", "check", str(folder), "--only", "softmax_backward"]) == 1
    out = capsys.readouterr().out
    line = next(i for i, text in enumerate(
        (folder / exercises.FILE_NAME).read_text().splitlines(), start=1)
        if "np.sum(dout * p, axis=1))" in text)
    assert "error: ValueError: operands could not be broadcast" in out
    assert f"(backprop.py, line {line}, in softmax_backward: return p * (dout" in out
    assert "printed:" in out and "| p is (4, 5)" in out


def test_the_notebook_check_runs_the_graders_checks_and_names_library_calls(capsys):
    from numpy_sae.teaching.assignment import check
    namespace = {}
    exec(compile(exercises.student_source(solutions=True), "<notebook cells>", "exec"),
         namespace)
    assert check(namespace["dense_forward"], namespace["dense_backward"])
    assert "2 of 2 functions correct" in capsys.readouterr().out
    # A cell that calls numpy_sae's own function is refused in the notebook as in a file.
    # (IPython keeps each cell's source in linecache, which inspect reads: so does this.)
    import linecache
    cell = ("from numpy_sae.nn import functional as F\n"
            "def tanh_forward(x):\n    return F.tanh_forward(x)\n")
    linecache.cache["<cell-7>"] = (len(cell), None, cell.splitlines(True), "<cell-7>")
    exec(compile(cell, "<cell-7>", "exec"), namespace)
    assert not check(namespace["tanh_forward"], namespace["tanh_backward"])
    assert "not accepted: it calls numpy_sae's own code (F)" in capsys.readouterr().out


def test_the_derive_notebook_shows_no_gradient_formula():
    import json

    from numpy_sae.teaching.assignment import TAG, assignment_notebook, notebook_to_source
    cells = json.loads(assignment_notebook(level="derive"))["cells"]
    prose = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "onehot" not in prose and "2(\\hat x - x)" not in prose and "dmu / T" not in prose
    assert "Derive $dx$, $dW$ and $db$" in prose and "$$\\mathrm{out} = xW + b$$" in prose
    # T5-24: the derive notes were plain text beside the LaTeX of the forward cells.
    from numpy_sae.teaching.assignment import DERIVE_EQUATIONS
    assert set(DERIVE_EQUATIONS) == set(exercises.DERIVE_NOTES)
    headings = [c for c in cells if "".join(c["source"]).startswith("### `")]
    assert len(headings) == len(exercises.GRADED)
    assert all("$$" in "".join(c["source"]) for c in headings)
    # Its exercise cells read back as the derive-level handout's functions.
    source = notebook_to_source(assignment_notebook(level="derive"))
    tagged = [c for c in cells if TAG in c["metadata"].get("tags", [])]
    assert len(tagged) == 1 + len(exercises.GRADED)
    assert "raise NotImplementedError" in source and "x.T @ dout" not in source


def test_the_whole_network_changing_its_params_in_place_is_noted(tmp_path):
    # Taking a step inside the loss: right loss and gradients (from copies), and the note.
    grades = graded(tmp_path, [("    return loss, grads\n",
                                "    params[\"encoder.0.W\"] -= 0.1 * grads[\"encoder.0.W\"]\n"
                                "    return loss, grads\n")])
    assert grades["joint_network_loss"].passed
    assert "changed its input params in place" in grades["joint_network_loss"].notes


def test_the_optimizers_question_has_an_answer_cell_and_its_key_holds():
    # T5-24: "Optimizers compared" asked a question with no answer cell and no key answer.
    import contextlib
    import io
    import json

    import numpy as np

    from numpy_sae.nn import functional, optim
    from numpy_sae.teaching.assignment import assignment_notebook, compare_optimizers
    for solutions, reply in ((False, "**Your answer:**"), (True, "**Answer (key):**")):
        cells = json.loads(assignment_notebook(solutions=solutions))["cells"]
        last = "".join(cells[-1]["source"])
        assert cells[-1]["cell_type"] == "markdown" and last.startswith(reply)
        assert "compare_optimizers" in "".join(cells[-2]["source"])
    # The key's answer, with the library's functions: momentum slowest at first, SGD and
    # Adam alike over the first steps, Adam the lowest from step 5 and far below at the end.
    with contextlib.redirect_stdout(io.StringIO()):
        curves = compare_optimizers(functional.joint_network_loss, optim.adam_step,
                                    show=False)
    sgd, momentum, adam = (np.asarray(c) for c in curves.values())
    assert momentum[2] > max(sgd[2], adam[2]) and abs(sgd[2] - adam[2]) < 0.2 * sgd[2]
    assert all(adam[i] < min(sgd[i], momentum[i]) for i in range(4, 150))
    assert adam[-1] < 0.2 * min(sgd[-1], momentum[-1])
