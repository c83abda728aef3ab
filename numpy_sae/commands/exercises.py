"""The ``exercises`` command: hand out the backprop assignment and grade it.

``numpy-sae exercises init DIR`` writes DIR/backprop.py, the student copy of
the math (``teaching.exercises``); ``numpy-sae exercises check DIR`` grades it and,
when every function is right, trains a small model on synthetic audio with
the student's own functions to show that it learns. The exit status is 0 only
when everything passes, so an instructor can grade in CI.
"""

import ast
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..data.gtzan import Preprocessing, build_clipset
from ..data.synth import generate_dataset
from ..teaching import exercises
from ..teaching.assignment import NOTEBOOK_NAME, assignment_notebook, notebook_program
from ..teaching.remote import MEMORY_LIMIT_MB, GradingLost, RemoteStudent, StudentError
from .experiment import (
    JobError,
    RunSettings,
    make_splits,
    make_trainer,
    new_audio_model,
    training_source,
)
from .outputs import check_new_files, written_output


def run_init(folder, solutions=False, bug=None, log=print, level="guided", notebook=False,
             source=None):
    """Write the student file (backprop.py, or the notebook backprop.ipynb, whose first
    cell installs numpy_sae from ``source`` in a kernel without it); refuse to replace
    one that exists (it may hold work)."""
    folder = Path(folder)
    target = folder / (NOTEBOOK_NAME if notebook else exercises.FILE_NAME)
    if target.exists():
        raise JobError(f"{target} already exists; it may hold a student's work, so it is "
                       "not replaced (pick another folder)")
    folder.mkdir(parents=True, exist_ok=True)
    text = assignment_notebook(solutions, level, install_from=source) if notebook else \
        exercises.student_source(solutions, bug, folder=str(folder), level=level)
    target.write_text(text, encoding="utf-8")
    what = "the library's solutions" + (f" with the bug {bug!r} planted" if bug else "") \
        if solutions else f"{len(exercises.GRADED)} functions to write"
    log(f"wrote {target}: {what}; grade it with: numpy-sae exercises check {folder}")
    return target


def _student_file(folder, log=print):
    """FOLDER/backprop.py or FOLDER/backprop.ipynb (the notebook assignment); of both, the
    one with more functions written (:func:`choose_submission`)."""
    found = [Path(folder) / name for name in (exercises.FILE_NAME, NOTEBOOK_NAME)
             if (Path(folder) / name).is_file()]
    if found:
        return choose_submission(found, log)
    raise JobError(f"no {exercises.FILE_NAME} or {NOTEBOOK_NAME} in {folder}; create one with "
                   f"numpy-sae exercises init {folder} (add --notebook for the notebook)")


def written_functions(path):
    """How many graded functions a .py file or a notebook defines with a body of its own
    (the last definition of each, as the kernel would run it; a stub that still only
    raises NotImplementedError is not written). None when it cannot be parsed."""
    try:
        text = path.read_text(encoding="utf-8")
        source = notebook_program(text)[0] if path.suffix == ".ipynb" else text
        tree = ast.parse(source)
    except (OSError, UnicodeDecodeError, ValueError, SyntaxError, RecursionError):
        return None
    graded = {name for _, name in exercises.GRADED}
    last = {node.name: node for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name in graded}
    return sum(not exercises.is_stub_node(node) for node in last.values())


def choose_submission(found, log=print):
    """The file to grade of a submission's backprop.py and backprop.ipynb: the only one,
    or of both the one with more graded functions written (the other is usually the
    untouched handout), backprop.py on a tie; the choice and why are logged."""
    if len(found) == 1:
        return found[0]
    counts = {path: written_functions(path) for path in found}
    chosen = max(found, key=lambda p: -1 if counts[p] is None else counts[p])
    other = next(p for p in found if p != chosen)

    def written(path):
        return "cannot be read" if counts[path] is None else \
            f"{counts[path]} of {len(exercises.GRADED)} functions written"
    log(f"note: both {found[0].name} and {found[1].name} were found; grading {chosen.name} "
        f"({written(chosen)}; {other.name}: {written(other)})")
    return chosen


TRAINING_LIMIT = 600.0  # seconds the training test may run by default


def grade_apart(path, units, time_limit=20.0, training_limit=TRAINING_LIMIT,
                memory_limit=MEMORY_LIMIT_MB, progress=None):
    """Grade ``units`` of the student file at ``path``, its code in a process of its own.

    The student's functions run in that process (:class:`remote.RemoteStudent`), which
    hands back only values; every check, comparison and score is made here, so nothing
    the file does in its process (replacing NumPy's or the grader's functions) reaches
    them. Each unit has ``time_limit`` seconds (``training`` has ``training_limit``) and
    the process at most ``memory_limit`` MB of address space (POSIX); a unit that runs
    longer, or whose code ends its process, is reported as such and the next unit goes on
    in a fresh process. ``progress`` takes the training's epoch lines (None: none).
    Returns (grades: list of exercises.Grade, training: dict or None, import_error: str or
    None, isolation: how the student's code ran, in words).
    """
    graded = [name for _, name in exercises.GRADED]
    functions = [name for name in graded if exercises.unit_of(name) in units]
    with RemoteStudent(path, memory_limit, time_limit, graded + list(
            name for _, name in exercises.PROVIDED)) as student:
        try:
            student.start()
        except (GradingLost, StudentError) as exc:
            return [], None, exercises.describe_error(exc, path), student.isolation
        grades = exercises.grade(student, only=functions) if functions else []
        training = (_train(student, training_limit, progress) if "training" in units
                    else None)
        return grades, training, None, student.isolation


def _train(student, limit, progress=None):
    """Train with the student's functions within ``limit`` seconds: the figures, or the
    error with the student's line; and what the student's code printed. ``progress``
    takes the epoch lines (they are not the student's output)."""
    printed, terminal = io.StringIO(), sys.stdout

    def epoch_line(line):
        with contextlib.redirect_stdout(terminal):
            progress(line)

    try:
        student.begin_unit(limit, poll=False)
        with contextlib.redirect_stdout(printed):
            first, last, val_accuracy, chance = train_with_student(
                student, log=epoch_line if progress else None)
        result = {"first": first, "last": last, "val_accuracy": val_accuracy, "chance": chance}
    except GradingLost as exc:
        if exc.timed_out:  # slow functions, most often: the checks' small cases passed
            exc = GradingLost(f"did not finish within the training's {limit:g} s (slow "
                              f"functions, such as Python loops over rows, or an endless "
                              f"loop)", exc.frames, timed_out=True)
        result = {"error": exercises.describe_error(exc, student)}
    except Exception as exc:  # the student's functions may fail any way while training
        result = {"error": exercises.describe_error(exc, student)}
    result["output"] = exercises.truncated(exercises.condensed(printed.getvalue()))
    return result


def train_with_student(student, epochs=30, seed=0, log=None):
    """Train a small joint model on synthetic audio with the student's functions; ``log``
    takes a line per epoch (None: silence).

    Returns (first epoch's training loss, last epoch's, validation accuracy, chance).
    """
    with tempfile.TemporaryDirectory() as tmp:
        root = generate_dataset(tmp, genres=("classical", "metal"), clips_per_genre=8,
                                duration=4.0, seed=seed, workers=1)
        clipset = build_clipset(root, "all", Preprocessing(), use_cache=False,
                                log=lambda line: None)
    settings = RunSettings(epochs=epochs, batch_size=32, crops=8, fractions=[0.75, 0.25, 0.0],
                           seed=seed)
    split_rng, init_rng, train_rng = (np.random.default_rng(s)
                                      for s in np.random.SeedSequence(seed).spawn(3))
    with exercises.using(student):
        model = new_audio_model(settings, clipset, init_rng)
        splits = make_splits(clipset, settings, split_rng, model)
        x_train, y_train, _ = splits.train
        model.network.fit_scaling(x_train)
        source = training_source(settings, clipset, splits.train_clips, x_train, y_train,
                                 model.features)
        trainer = make_trainer(settings, model.network, source, splits.validation[:2], train_rng,
                               log=log)
        history = trainer.fit(epochs)
    return (history["loss"][0], history["loss"][-1], history["val_accuracy"][-1],
            1.0 / len(clipset.genre_names))


TRAINING_TEST = "training with your functions"


def run_check(folder, log=print, only=None, as_json=False, results=None, force=False,
              time_limit=20.0, memory_limit=MEMORY_LIMIT_MB, points=None, training_points=0,
              visibility=None, hidden=(), max_hint=3, student_file=None, note=None,
              training_limit=TRAINING_LIMIT, deadline=None, progress=None):
    """Grade the student file; return True when every graded function passes (and, when the
    whole file was graded, the model learns with them).

    The student's code runs in a process of its own (:func:`grade_apart`), so it cannot
    end the grading, hang it, or change the library the answers are compared with; the
    verdict and the exit status are this process's.

    only : function names to grade (None: all); as_json : print JSON instead of the table;
    results : path of a Gradescope results.json to write as well (an existing file only
    with ``force``); time_limit : seconds each function may run; points : {function:
    weight} (1 for a function not named); training_points : the weight of the training
    test; visibility : Gradescope's visibility of every test (None: its default); hidden :
    the functions (or "training") whose tests students never see, though they count;
    max_hint : the highest hint step the results show (0: none); student_file : the file
    to grade, a .py or a notebook whose definitions are graded as one .py file
    (default: FOLDER/backprop.py or FOLDER/backprop.ipynb, :func:`_student_file`);
    note : a line the results.json summary starts with (which file was graded, and why);
    training_limit : seconds the training test may run; deadline : time.monotonic() by
    which grading must end (Gradescope's own limit), or None: training gets what is left
    of it, and the functions' scores are in ``results`` before training starts;
    progress : takes the training's epoch lines (None: none).
    """
    settings = {"points": points or {}, "training_points": training_points,
                "visibility": visibility, "hidden": set(hidden), "max_hint": max_hint,
                "started": time.monotonic(), "note": note, "training_limit": training_limit,
                "deadline": deadline, "progress": progress}
    if results is not None:
        if Path(results).is_dir():
            raise JobError(f"--results {results} is a folder; name the results.json file")
        # Never onto the student's work, even with force: the file graded, its notebook,
        # and any Python file beside them (a helper the student's file imports).
        inputs = [Path(folder) / exercises.FILE_NAME, Path(folder) / NOTEBOOK_NAME,
                  *Path(folder).glob("*.py"), *Path(folder).glob("*.ipynb"),
                  *([Path(student_file)] if student_file is not None else [])]
        check_new_files([results], inputs, force)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = Path(student_file) if student_file is not None else \
                _student_file(folder, log)
            submitted = path.name
            if path.suffix == ".ipynb":
                path = _notebook_as_python(path, Path(tmp))
        except JobError as exc:
            # A misnamed or missing submission still gets a result that says so.
            if results is not None:
                _write_results(results, _failed_results(str(exc), settings), force)
            if as_json:
                log(json.dumps({"score": 0, "max_score": None, "error": str(exc)}, indent=1))
            raise
        return _grade_file(path, log, only, as_json, results, force, time_limit,
                           memory_limit, settings, submitted)


def _notebook_as_python(notebook, folder):
    """FOLDER/backprop.py made of a notebook's definitions (assignment.notebook_program),
    with the cell of each of its lines beside it, so errors name the notebook's cells;
    JobError when it is no notebook."""
    target = folder / exercises.FILE_NAME
    try:
        source, lines = notebook_program(notebook.read_text(encoding="utf-8"))
        target.write_text(source, encoding="utf-8")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise JobError(f"{notebook.name} is not a notebook: {exc}") from None
    cell_map = target.with_name(target.name + exercises.CELL_MAP_SUFFIX)
    cell_map.write_text(json.dumps({"notebook": notebook.name, "lines": lines}), "utf-8")
    return target


def _grade_file(path, log, only, as_json, results, force, time_limit, memory_limit,
                settings, submitted):
    """:func:`run_check` once the student's file is a .py file at ``path`` (made from the
    file named ``submitted``)."""
    max_hint, training_points = settings["max_hint"], settings["training_points"]
    units = list(dict.fromkeys(exercises.unit_of(name) for _, name in exercises.GRADED
                               if only is None or exercises.unit_of(name) in
                               {exercises.unit_of(n) for n in only}))
    grades, _, import_error, isolation = grade_apart(path, units, time_limit,
                                                     memory_limit=memory_limit)
    settings["isolation"] = isolation
    if import_error:
        message = f"{submitted} does not import: {import_error}"
        # Gradescope and the --json loop still get a result: score 0 and the reason.
        if results is not None:
            _write_results(results, _failed_results(message, settings), force)
        if as_json:
            log(json.dumps({"score": 0, "max_score": None, "error": message}, indent=1))
        raise JobError(message)
    passed = all(g.passed for g in grades)
    report = exercises.grades_as_dict(grades, settings["points"])
    learned = None
    if only is None:
        if passed:
            if not as_json:
                log(exercises.format_grades(grades, max_hint, settings["points"]))
                log("")
                log(f"every function is right: training a small model on synthetic audio with "
                    f"yours (at most {settings['training_limit']:g} s) ...")
            if results is not None:
                # The functions' scores are kept should the run be stopped while training.
                _write_results(results, _gradescope_results(
                    _with_training(report, False, "training did not finish: it was stopped "
                                   "(Gradescope's time limit?)", "", training_points),
                    settings), force)
                force = True  # this command's own file, replaced when training ends
            budget, left = settings["training_limit"], None
            if settings.get("deadline") is not None:
                left = settings["deadline"] - time.monotonic()
                budget = min(budget, left)
            if left is not None and left < 10:
                training = {"error": f"not run: {max(left, 0):.0f} s were left of the "
                                     "grader's time"}
            else:
                _, training, error, _ = grade_apart(path, ["training"], time_limit, budget,
                                                    memory_limit, settings["progress"])
                training = training or {"error": error}
            learned, message = _training_verdict(training)
            printed = training.get("output", "")
        else:
            message, printed = "not run: it runs once every function is correct", ""
        report = _with_training(report, learned, message, printed, training_points)
    report["isolation"] = isolation
    if results is not None:
        _write_results(results, _gradescope_results(report, settings), force)
    if as_json:
        log(json.dumps(report, indent=1))
    elif not passed or only is not None:
        log(exercises.format_grades(grades, max_hint, settings["points"]))
    else:
        log(report["training"]["message"])
        if report["training"]["output"]:
            log("printed while training:\n" + report["training"]["output"].rstrip("\n"))
    return passed and learned is not False


def _with_training(report, learned, message, printed, training_points):
    """The report with its training test: its points only when the model learned."""
    training = {"learns": bool(learned), "message": message, "output": printed,
                "points": training_points * bool(learned), "max_points": training_points}
    return {**report, "training": training, "score": report["score"] + training["points"],
            "max_score": report["max_score"] + training_points}


def _training_verdict(training):
    """(whether the model learned with the student's functions, the message saying so)."""
    if "error" in training:
        return False, f"training with your functions failed: {training['error']}"
    learned = (training["last"] < 0.8 * training["first"]
               and training["val_accuracy"] > training["chance"] + 0.2)
    return learned, (f"training loss {training['first']:.3f} -> {training['last']:.3f}; "
                     f"validation accuracy {training['val_accuracy']:.3f} (chance "
                     f"{training['chance']:.3f}): "
                     + ("it learns." if learned else "it did not learn."))


def _test(name, score, max_score, output, settings):
    """One Gradescope test: a status always (a 0/0 test would otherwise show as passed)."""
    test = {"name": name, "score": score, "max_score": max_score,
            "status": "passed" if output is None else "failed", "output": output or "correct"}
    if name in settings.get("hidden", ()) or (name == TRAINING_TEST and "training" in
                                              settings.get("hidden", ())):
        test["visibility"] = "hidden"  # counted in the score, never shown to students
    elif settings["visibility"]:
        test["visibility"] = settings["visibility"]
    return test


def _gradescope_results(report, settings):
    """results.json in Gradescope's format: per function and for training a test with its
    score, max score, status and output (the status, the first hint up to ``max_hint``,
    notes and printed output), a summary, and the time taken."""
    tests = []
    for row in report["functions"]:
        passed = row["points"] == row["max_points"] and row["status"] == "correct"
        lines = [] if passed else [row["status"]]
        if not passed and row["status"] != "not started" and settings["max_hint"] >= 1:
            lines.append(f"hint: {row['hint']}")
            # Steps 2 and 3 (shapes, then the formula) when the instructor allows them.
            lines += [f"hint {step}" for step in
                      exercises.hint(row["function"], settings["max_hint"])[1:]]
        if row["notes"]:
            lines.append(f"note: {row['notes']}")
        if row["output"]:
            lines.append("your code printed:\n" + row["output"].rstrip("\n"))
        test = _test(row["function"], row["points"], row["max_points"],
                     "\n".join(lines) if not passed else None, settings)
        if passed and len(lines):
            test["output"] = "correct\n" + "\n".join(lines)
        tests.append(test)
    training = report.get("training")
    if training is not None:
        output = training["message"] + (f"\nyour code printed:\n{training['output']}"
                                        if training["output"] else "")
        test = _test(TRAINING_TEST, training["points"], training["max_points"],
                     None if training["learns"] else output, settings)
        test["output"] = output
        tests.append(test)
    results = {"score": report["score"], "tests": tests,
               "output": (settings["note"] + "\n" if settings.get("note") else "")
                         + _summary(tests, report, settings) + _isolation_note(settings),
               "execution_time": round(time.monotonic() - settings["started"], 1)}
    if settings["visibility"]:
        results["visibility"] = settings["visibility"]  # the whole submission's, score too
    return results


def _isolation_note(settings):
    """A line for results.json when the student's code could not run as an unprivileged
    user (the grader was not root, or that user could not start Python)."""
    isolation = settings.get("isolation") or ""
    if not isolation or "ran as the user" in isolation:
        return ""
    return (f"\nnote for the instructor: {isolation}, so it could read or change what "
            "the grader's user can (not the grades, which are computed apart from it).")


def _summary(tests, report, settings):
    """The top-level output, which Gradescope may show before the tests' own visibility
    allows: no score or count of a test students may not see yet."""
    if settings["visibility"] in ("hidden", "after_due_date", "after_published"):
        return (f"{len(tests)} tests were run; the results are shown "
                + {"hidden": "to the instructor only.",
                   "after_due_date": "after the due date.",
                   "after_published": "when the grades are published."}[settings["visibility"]])
    shown = [t for t in tests if t.get("visibility") != "hidden"]
    done = sum(t["status"] == "passed" for t in shown)
    if len(shown) < len(tests):
        return (f"{done} of {len(shown)} visible tests passed; {len(tests) - len(shown)} more "
                "are hidden and count in the score shown after grading.")
    return f"{done} of {len(tests)} tests passed; score {report['score']:g} of " \
           f"{report['max_score']:g}."


def _failed_results(message, settings):
    """results.json for a submission that could not be graded: score 0 and the reason."""
    return {"score": 0, "output": message, "tests": [_test("submission", 0, 0, message, settings)],
            "execution_time": round(time.monotonic() - settings["started"], 1)}


def _write_results(results, content, force):
    """Gradescope's results.json, written whole or not at all."""
    with written_output(results, force) as tmp:
        Path(tmp).write_text(json.dumps(content, indent=1))
