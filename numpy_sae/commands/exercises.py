"""The ``exercises`` command: hand out the backprop assignment and grade it.

``numpy-sae exercises init DIR`` writes DIR/backprop.py, the student copy of
the math (``nn.exercises``); ``numpy-sae exercises check DIR`` grades it and,
when every function is right, trains a small model on synthetic audio with
the student's own functions to show that it learns. The exit status is 0 only
when everything passes, so an instructor can grade in CI.
"""

import json
import tempfile
from pathlib import Path

import numpy as np

from ..data.gtzan import Preprocessing, build_clipset
from ..data.synth import generate_dataset
from ..nn import exercises
from .experiment import (
    JobError,
    RunSettings,
    make_splits,
    make_trainer,
    new_audio_model,
    training_source,
)
from .outputs import check_new_files


def run_init(folder, solutions=False, bug=None, log=print):
    """Write the student file; refuse to replace one that exists (it may hold work)."""
    folder = Path(folder)
    target = folder / exercises.FILE_NAME
    if target.exists():
        raise JobError(f"{target} already exists; it may hold a student's work, so it is "
                       "not replaced (pick another folder)")
    folder.mkdir(parents=True, exist_ok=True)
    target.write_text(exercises.student_source(solutions, bug, folder=str(folder)))
    what = "the library's solutions" + (f" with the bug {bug!r} planted" if bug else "") \
        if solutions else f"{len(exercises.GRADED)} functions to write"
    log(f"wrote {target}: {what}; grade it with: numpy-sae exercises check {folder}")
    return target


def _load(folder):
    path = Path(folder) / exercises.FILE_NAME
    if not path.is_file():
        raise JobError(f"no {exercises.FILE_NAME} in {folder}; create it with "
                       f"numpy-sae exercises init {folder}")
    try:
        return exercises.load_student(path)
    except Exception as exc:  # the student's file may not even import
        raise JobError(f"{path} does not import: {type(exc).__name__}: {exc}") from None


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


def run_check(folder, log=print, only=None, as_json=False, results=None, force=False):
    """Grade the student file; return True when every graded function passes (and, when the
    whole file was graded, the model learns with them).

    only : function names to grade (None: all); as_json : print JSON instead of the table;
    results : path of a Gradescope results.json to write as well (an existing file only
    with ``force``).
    """
    student = _load(folder)
    grades = exercises.grade(student, only=only)
    passed = all(g.passed for g in grades)
    learned = None
    if passed and only is None:
        if not as_json:
            log(exercises.format_grades(grades))
            log("")
            log("every function is right: training a small model on synthetic audio with "
                "yours ...")
        first, last, val_accuracy, chance = train_with_student(student)
        learned = last < 0.8 * first and val_accuracy > chance + 0.2
        training = (f"training loss {first:.3f} -> {last:.3f}; validation accuracy "
                    f"{val_accuracy:.3f} (chance {chance:.3f}): "
                    + ("it learns." if learned else "it did not learn."))
    report = exercises.grades_as_dict(grades)
    if learned is not None:
        report["training"] = {"learns": bool(learned), "message": training}
    if results is not None:
        tests = [{"name": row["function"], "score": row["points"],
                  "max_score": row["max_points"], "output": row["status"]
                  + (f"\nhint: {row['hint']}" if row["points"] == 0 else "")}
                 for row in report["functions"]]
        if learned is not None:
            tests.append({"name": "training with your functions", "score": 0,
                          "max_score": 0, "output": training})
        check_new_files([results], [Path(folder) / exercises.FILE_NAME], force)
        Path(results).write_text(json.dumps({"score": report["score"], "tests": tests},
                                            indent=1))
    if as_json:
        log(json.dumps(report, indent=1))
    elif learned is None:
        log(exercises.format_grades(grades))
    else:
        log(training)
    return passed and learned is not False
