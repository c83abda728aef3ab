"""The ``exercises`` command: hand out the backprop assignment and grade it.

``numpy-sae exercises init DIR`` writes DIR/backprop.py, the student copy of
the math (``teaching.exercises``); ``numpy-sae exercises check DIR`` grades it and,
when every function is right, trains a small model on synthetic audio with
the student's own functions to show that it learns. The exit status is 0 only
when everything passes, so an instructor can grade in CI.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ..data.gtzan import Preprocessing, build_clipset
from ..data.synth import generate_dataset
from ..teaching import exercises
from .experiment import (
    JobError,
    RunSettings,
    make_splits,
    make_trainer,
    new_audio_model,
    training_source,
)
from .outputs import check_new_files, written_output


def run_init(folder, solutions=False, bug=None, log=print, level="guided"):
    """Write the student file; refuse to replace one that exists (it may hold work)."""
    folder = Path(folder)
    target = folder / exercises.FILE_NAME
    if target.exists():
        raise JobError(f"{target} already exists; it may hold a student's work, so it is "
                       "not replaced (pick another folder)")
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text(exercises.student_source(solutions, bug, folder=str(folder), level=level))
    what = "the library's solutions" + (f" with the bug {bug!r} planted" if bug else "") \
        if solutions else f"{len(exercises.GRADED)} functions to write"
    log(f"wrote {target}: {what}; grade it with: numpy-sae exercises check {folder}")
    return target


def _student_file(folder):
    path = Path(folder) / exercises.FILE_NAME
    if not path.is_file():
        raise JobError(f"no {exercises.FILE_NAME} in {folder}; create it with "
                       f"numpy-sae exercises init {folder}")
    return path


def _events(report):
    """The JSON events the child has written whole (a line counts once its newline is)."""
    return [json.loads(line) for line in report.read_text().split("\n")[:-1] if line]


def grade_in_children(path, units, time_limit=20.0, training_limit=600.0, memory_limit=4096):
    """Grade ``units`` of the student file at ``path`` in child processes.

    Each unit has ``time_limit`` seconds (``training`` has ``training_limit``) and the child
    at most ``memory_limit`` MB of address space (POSIX); a unit that
    runs longer, or whose code ends its process (``sys.exit``, ``os._exit``), is reported
    as such and the remaining units go on in a fresh process. Returns
    (grades: list of exercises.Grade, training: dict or None, import_error: str or None).
    """
    grades, training, remaining = [], None, list(units)
    while remaining:
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.jsonl"
            report.touch()
            child = subprocess.Popen(
                [sys.executable, "-m", "numpy_sae.commands.grade_child",
                 str(Path(path).resolve()), str(report), *remaining],
                # What the student's code prints is not read: a full pipe would stall it.
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp,
                env={**os.environ, "NUMPY_SAE_GRADER_MEMORY": str(int(memory_limit * 2 ** 20))},
                # Its own process group, so whatever it forks is ended with it.
                **({"start_new_session": True} if os.name == "posix" else {}))
            try:
                ended, unit, limit = _supervise(child, report, time_limit, training_limit)
            finally:
                # Ctrl-C or SIGTERM while grading: the student's code must not run on,
                # unsupervised, after the grader is gone.
                _end(child)
            events = _events(report)
        seen = set()
        for event in events:
            if "import_error" in event:
                return grades, training, event["import_error"]
            # A student file that forks reports every unit twice: count each once.
            key = event.get("unit", "training" if "training" in event else None)
            if key is None or key in seen or key not in remaining:
                continue
            seen.add(key)
            if "unit" in event:
                grades += [exercises.Grade(**g) for g in event["grades"]]
            else:
                training = event["training"]
            remaining.remove(key)
        if not events:
            return grades, training, (
                f"importing it ran longer than {limit:g} s (an endless loop at the top level?)"
                if ended == "timeout" else f"the file ended the grading process while it was "
                f"imported (exit status {child.returncode})")
        if any("done" in e for e in events) or not remaining:
            break
        stuck = remaining.pop(0)  # the unit that started and never finished
        why = (f"ran longer than {limit:g} s (an endless loop?)" if ended == "timeout" else
               f"your code ended the grading process (exit status {child.returncode}: "
               "sys.exit or os._exit?)")
        if stuck == "training":
            training = {"error": why}
        else:
            grades += [exercises.Grade(name, f"error: {why}", None, exercises.HINTS[name])
                       for _, name in exercises.GRADED if exercises.unit_of(name) == stuck]
    order = {name: i for i, (_, name) in enumerate(exercises.GRADED)}
    return sorted(grades, key=lambda g: order[g.function]), training, None


def _end(child):
    """Kill a grading child and every process it started (its process group on POSIX)."""
    if os.name == "posix":
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)
    if child.poll() is None:
        child.kill()
    child.wait()


def _supervise(child, report, time_limit, training_limit):
    """Wait for a grading child: (how it ended, its last unit, that unit's limit)."""
    started, unit, ended = time.monotonic(), None, None
    while ended is None:
        events = _events(report)
        current = next((e["start"] for e in reversed(events) if "start" in e), None)
        if current != unit:
            unit, started = current, time.monotonic()
        # Importing the file (unit None) has the same limit as a function.
        limit = training_limit if unit == "training" else time_limit
        if child.poll() is not None:
            ended = "exit"
        elif time.monotonic() - started > limit:
            _end(child)
            ended = "timeout"
        else:
            time.sleep(0.02)
    return ended, unit, limit


def train_with_student(student, epochs=30, seed=0, log=print):
    """Train a small joint model on synthetic audio with the student's functions.

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
        trainer = make_trainer(settings, model.network, source, splits.validation[:2], train_rng)
        history = trainer.fit(epochs)
    return (history["loss"][0], history["loss"][-1], history["val_accuracy"][-1],
            1.0 / len(clipset.genre_names))


def run_check(folder, log=print, only=None, as_json=False, results=None, force=False,
              time_limit=20.0, memory_limit=4096):
    """Grade the student file; return True when every graded function passes (and, when the
    whole file was graded, the model learns with them).

    The student's code runs in child processes (:func:`grade_in_children`), so it cannot
    end the grading, hang it, or change the library the answers are compared with; the
    verdict and the exit status are this process's.

    only : function names to grade (None: all); as_json : print JSON instead of the table;
    results : path of a Gradescope results.json to write as well (an existing file only
    with ``force``); time_limit : seconds each function may run.
    """
    if results is not None:
        if Path(results).is_dir():
            raise JobError(f"--results {results} is a folder; name the results.json file")
        check_new_files([results], [Path(folder) / exercises.FILE_NAME], force)
    try:
        path = _student_file(folder)
    except JobError as exc:
        # A misnamed or missing submission still gets a result that says so.
        if results is not None:
            _write_results(results, {"score": 0, "output": str(exc), "tests": []}, force)
        raise
    units = list(dict.fromkeys(exercises.unit_of(name) for _, name in exercises.GRADED
                               if only is None or exercises.unit_of(name) in
                               {exercises.unit_of(n) for n in only}))
    grades, _, import_error = grade_in_children(path, units, time_limit,
                                                memory_limit=memory_limit)
    if import_error:
        message = f"{path} does not import: {import_error}"
        # Gradescope and the --json loop still get a result: score 0 and the reason.
        if results is not None:
            _write_results(results, {"score": 0, "output": message, "tests": []}, force)
        if as_json:
            log(json.dumps({"score": 0, "max_score": None, "error": message}, indent=1))
        raise JobError(message)
    passed = all(g.passed for g in grades)
    report = exercises.grades_as_dict(grades)
    learned = None
    if passed and only is None:
        if not as_json:
            log(exercises.format_grades(grades))
            log("")
            log("every function is right: training a small model on synthetic audio with "
                "yours ...")
        _, training, _ = grade_in_children(path, ["training"], time_limit,
                                           memory_limit=memory_limit)
        if "error" in training:
            learned, message = False, f"training with your functions: {training['error']}"
        else:
            learned = (training["last"] < 0.8 * training["first"]
                       and training["val_accuracy"] > training["chance"] + 0.2)
            message = (f"training loss {training['first']:.3f} -> {training['last']:.3f}; "
                       f"validation accuracy {training['val_accuracy']:.3f} (chance "
                       f"{training['chance']:.3f}): "
                       + ("it learns." if learned else "it did not learn."))
        report["training"] = {"learns": bool(learned), "message": message}
    if results is not None:
        tests = [{"name": row["function"], "score": row["points"],
                  "max_score": row["max_points"], "output": row["status"]
                  + (f"\nhint: {row['hint']}" if row["points"] == 0 else "")}
                 for row in report["functions"]]
        if learned is not None:
            tests.append({"name": "training with your functions", "score": 0,
                          "max_score": 0, "output": report["training"]["message"]})
        _write_results(results, {"score": report["score"], "tests": tests}, force)
    if as_json:
        log(json.dumps(report, indent=1))
    elif learned is None:
        log(exercises.format_grades(grades))
    else:
        log(report["training"]["message"])
    return passed and learned is not False


def _write_results(results, content, force):
    """Gradescope's results.json, written whole or not at all."""
    with written_output(results, force) as tmp:
        Path(tmp).write_text(json.dumps(content, indent=1))
