"""The process that runs a student's code for ``numpy-sae exercises check``.

    python -m numpy_sae.commands.grade_child STUDENT_FILE REPORT_FILE UNIT [UNIT ...]

It imports the student's file, grades the named units (a forward/backward pair,
``adam``, ... or ``training``) and appends one JSON line per event to
REPORT_FILE: ``{"start": "import"}`` before the student's file is imported,
``{"start": unit}`` before a unit, ``{"unit": unit, "grades":
[...]}`` after it, ``{"training": {...}}`` and ``{"done": true}`` at the end.
The grading command reads that file: a unit that started and never finished
ended the process (``sys.exit``, ``os._exit``) or ran past its time limit, and
the exit status is the grading command's own, never this process's.
"""

import contextlib
import faulthandler
import io
import json
import os
import sys
from dataclasses import asdict

from ..teaching import exercises

# The library's functions as they are before any student code runs: the student's file
# may assign over numpy_sae's own (by mistake or not), and the grader then puts them back
# before every unit, so the reference it compares with is the library's.
_LIBRARY = [(module, name, getattr(module, name))
            for module, name in exercises.GRADED + exercises.PROVIDED]


def _restore_library():
    for module, name, function in _LIBRARY:
        setattr(module, name, function)


def _limit_memory():
    """Cap this process's address space (POSIX) at $NUMPY_SAE_GRADER_MEMORY bytes, so a
    student function that allocates without end fails with a MemoryError, graded as such."""
    limit = os.environ.get("NUMPY_SAE_GRADER_MEMORY")
    if limit and limit.isdigit() and int(limit) > 0:
        try:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
        except (ImportError, ValueError, OSError):
            pass  # Windows, or a limit the system refuses: grade without one


def _number(value):
    """A float JSON can hold (None for NaN, inf or anything else)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if value == value and abs(value) != float("inf") else None


def _train(student, student_file):
    """Train with the student's functions: the figures, or the error with the student's line,
    and what the student's code printed."""
    from .exercises import train_with_student
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            first, last, val_accuracy, chance = train_with_student(student)
        result = {"first": first, "last": last, "val_accuracy": val_accuracy, "chance": chance}
    except BaseException as exc:  # the student's functions may fail any way while training
        result = {"error": exercises.describe_error(exc, student_file)}
    result["output"] = exercises.truncated(printed.getvalue())
    return result


def _stack_dump_before_the_limit(stacks, unit):
    """Have Python write this process's stack to ``stacks`` shortly before the grader's
    time limit for ``unit`` ends it: the grader then names the student's line that was
    running (an endless loop's). Limits come from $NUMPY_SAE_GRADER_LIMITS ("unit,training")."""
    try:
        unit_limit, training_limit = map(float, os.environ["NUMPY_SAE_GRADER_LIMITS"].split(","))
    except (KeyError, ValueError):
        return
    limit = training_limit if unit == "training" else unit_limit
    faulthandler.cancel_dump_traceback_later()
    stacks.seek(0)
    stacks.truncate()
    faulthandler.dump_traceback_later(max(limit - 0.5, 0.8 * limit), file=stacks)


def main(argv):
    _limit_memory()
    student_file, report_file, *units = argv
    with open(report_file, "a", encoding="utf-8") as report, \
            open(f"{report_file}.stack", "w", encoding="utf-8") as stacks:
        def emit(event):
            report.write(json.dumps(event) + "\n")
            report.flush()
        # The grader's clock for the student's file starts here, not at this process's start.
        emit({"start": "import"})
        _stack_dump_before_the_limit(stacks, None)
        try:
            student = exercises.load_student(student_file)
        except BaseException as exc:  # SystemExit too: the file must import to be graded
            emit({"import_error": exercises.describe_error(exc, student_file)})
            return 0
        for unit in units:
            emit({"start": unit})
            _stack_dump_before_the_limit(stacks, unit)
            _restore_library()
            if unit == "training":
                emit({"training": _train(student, student_file)})
                continue
            names = [name for _, name in exercises.GRADED if exercises.unit_of(name) == unit]
            grades = exercises.grade(
                student, only=names,
                on_forward=lambda unit, error: emit({"unit_progress": unit,
                                                     "forward_checked": _number(error)}))
            emit({"unit": unit, "grades": [asdict(g) for g in grades]})
        faulthandler.cancel_dump_traceback_later()
        emit({"done": True})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
