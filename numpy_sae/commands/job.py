"""The main job: a folder of music (or the synthetic default) to a trained model and a report.

``run_training(settings)`` finds the data, splits by song, trains the joint
model with checkpoints, evaluates at window and song level, and writes
``runs/<name>/`` (model file, history.csv, metrics.json, report.txt, PNG
figures); ``run_training(settings, resume=RUN_DIR)`` continues a run exactly.
The CLI and examples/train_gtzan.py call it.
"""

import contextlib
import importlib.util
import os
import shlex
import time
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from ..audio_model import AudioModel
from ..data.gtzan import DataError, resolve_root
from ..data.parallel import sigterm_as_interrupt
from ..train import TrainingDiverged, TrainingInterrupted
from .experiment import (
    JobError,
    RunSettings,
    load_dataset,
    make_splits,
    make_trainer,
    new_audio_model,
    training_source,
)
from .models import describe_settings
from .outputs import check_name, folder_lock, new_folder, release_if_unused
from .report import model_lines, write_results, written_files


class JobInterrupted(JobError):
    """Ctrl-C (or SIGTERM): the state of the last finished epoch was saved."""


@contextlib.contextmanager
def _released_on_failure(run_dir):
    """A new run that fails before it saved anything gives its folder (and --name) back.
    Interrupts and divergence are not failures here: they save a resumable state."""
    try:
        yield
    except (TrainingInterrupted, TrainingDiverged):
        raise
    except BaseException:
        if run_dir is not None:
            release_if_unused(run_dir)
        raise


def _stored_run(run_dir, epochs):
    """The model, settings and trainer state of a run folder to resume."""
    model_path = run_dir / "model.npz"
    model, meta, trainer_state = AudioModel.load(model_path)
    if trainer_state is None:
        raise JobError(f"{model_path} holds no training state to resume")
    try:
        settings = RunSettings(**meta["job"]).check()
    except (KeyError, TypeError, ValueError) as exc:
        raise JobError(f"{model_path}: stored run settings are unusable ({exc})") from None
    if epochs is not None:  # the only setting a resume may change: run longer
        settings.epochs = epochs
    return model, settings, trainer_state, meta.get("subsets")


def _new_run_dir(settings, dataset):
    """The run folder, created atomically: a default name gives way to name-2, name-3 ...
    when another run took it; an explicit name that holds files is refused."""
    if not settings.name:
        stem = Path(settings.data).name if settings.data and not dataset.synthetic else "synthetic"
        return new_folder(settings.out, f"{datetime.now():%Y%m%d-%H%M%S}-{stem}", numbered=True)
    run_dir = Path(settings.out) / check_name(settings.name)
    try:
        return new_folder(settings.out, settings.name)
    except JobError:
        if not (run_dir.is_dir() and any(run_dir.iterdir())):
            raise  # the real cause: --out is a file, a read-only disk, ...
        # A run never overwrites files it did not create.
        raise JobError(f"run folder {run_dir} already exists and is not empty; pick another "
                       f"--name" + (f" or continue it with --resume {run_dir}"
                                    if (run_dir / "model.npz").exists() else "")) from None


def subset_songs(clipset, splits, genre_root):
    """Which songs each subset holds, as [relative path, size in bytes] pairs: recorded in
    the model file, so a resume can tell whether the data changed."""
    def song(i):
        path = clipset.paths[i]
        return [path, os.stat(Path(genre_root) / path).st_size]
    return {name: [song(i) for i in np.unique(getattr(splits, name)[2])]
            for name in ("train", "validation", "test")}


def _check_same_songs(stored, now, run_dir):
    """Refuse to resume when the data changed: the split would no longer be the run's."""
    if stored is None:
        return  # a file from before the songs were recorded

    def as_dict(songs):
        # Files written before sizes were recorded hold plain names.
        return {s if isinstance(s, str) else s[0]: None if isinstance(s, str) else s[1]
                for s in songs}
    changes = []
    # Files written before unlabeled audio was recorded hold no "unlabeled" entry.
    for name in ("train", "validation", "test", *(["unlabeled"] if "unlabeled" in stored else [])):
        before, after = as_dict(stored.get(name, [])), as_dict(now.get(name, []))
        changed = {song for song in before.keys() & after.keys()
                   if before[song] is not None and before[song] != after[song]}
        for verb, songs in (("lost", before.keys() - after.keys()),
                            ("gained", after.keys() - before.keys()),
                            ("has changed files", changed)):
            if songs:
                shown = ", ".join(sorted(songs)[:3]) + (" ..." if len(songs) > 3 else "")
                changes.append(f"{name} {verb} {len(songs)} ({shown})")
    if changes:
        raise JobError(f"the data changed since {run_dir} began, so its split would change "
                       f"(songs could move from training to test): {'; '.join(changes)}. "
                       "Start a new run instead")


def run_training(settings, resume=None, log=print, figures=True, progress=None):
    """Run the main job (see :func:`_run_training`): a new run holds its folder's lock
    from the moment it claims the folder until it has written its last file, so a
    ``--resume`` of it meanwhile is refused; a new run that fails before it saved
    anything gives its folder (and ``--name``) back."""
    with contextlib.ExitStack() as held:
        return _run_training(settings, resume, log, figures, progress, held)


def _run_training(settings, resume, log, figures, progress, held):
    """Run the main job.

    Parameters
    ----------
    settings : RunSettings; when resuming, the stored ones are used, except
        ``epochs`` when it is not None, and ``jobs``
    resume : path of a run folder to continue, or None
    log : callable taking one line: what the run is, its report, where it wrote
    figures : False writes no PNG figures (train --no-figures)
    progress : callable taking one line of progress (generation, loading, epochs, with
        the time left), or None for ``log``; ``lambda line: None`` silences it (train -q)

    Returns
    -------
    Path of the run folder.
    """
    if importlib.util.find_spec("matplotlib") is None:
        # Checked first: a run would otherwise train every epoch and die at its figures.
        raise JobError("matplotlib is not installed, and the run's figures need it: "
                       "pip install matplotlib (or reinstall numpy_sae)")
    stored_songs = None
    if resume:
        run_dir = Path(resume)
        jobs = settings.jobs  # how the clips are read may change; what is trained may not
        model, settings, trainer_state, stored_songs = _stored_run(run_dir, settings.epochs)
        settings = replace(settings, jobs=jobs)
        if settings.epochs <= trainer_state["epoch"]:
            raise JobError(f"{run_dir} has run {trainer_state['epoch']} epochs already; "
                           f"--epochs {settings.epochs} must be more to continue it")
        log(f"resuming {run_dir} from epoch {trainer_state['epoch']} to {settings.epochs}")
    else:
        # Folders are stored resolved, so a resume from another directory finds them.
        settings = replace(settings, **{k: str(Path(getattr(settings, k)).expanduser().resolve())
                                        for k in ("data", "unlabeled", "cache_dir")
                                        if getattr(settings, k)})
    progress = progress or log
    for line in model_lines(settings):
        log(line)
    dataset = load_dataset(settings, progress)
    clipset = dataset.clipset
    split_rng, init_rng, train_rng = (np.random.default_rng(s)
                                      for s in np.random.SeedSequence(settings.seed).spawn(3))
    if not resume:
        model = new_audio_model(settings, clipset, init_rng)
    splits = make_splits(clipset, settings, split_rng, model)
    x_train, y_train, _ = splits.train
    progress(f"{model.unit}s: train {len(y_train)}, validation {len(splits.validation[1])}, "
             f"test {len(splits.test[1])} (split: {settings.split_name()})")
    if len(splits.validation[1]) == 0:
        raise DataError("the validation split is empty: use more clips or other fractions")
    songs = subset_songs(clipset, splits, resolve_root(dataset.root))
    if dataset.unlabeled is not None:  # a changed folder of unlabeled audio changes the run
        songs["unlabeled"] = [[p, os.stat(Path(settings.unlabeled) / p).st_size]
                              for p in dataset.unlabeled.paths]
    if resume:
        try:
            _check_same_songs(stored_songs, songs, run_dir)
        except (AttributeError, TypeError, IndexError, KeyError):
            raise JobError(f"{run_dir / 'model.npz'}: its record of the run's songs is damaged; "
                           "start a new run instead") from None
    else:
        model.network.fit_scaling(x_train)
        run_dir = _new_run_dir(settings, dataset)
        # Exits run last-in first-out: the lock goes, then an unused folder is released.
        held.enter_context(_released_on_failure(run_dir))
        held.enter_context(folder_lock(run_dir))
    network = model.network
    source = training_source(settings, clipset, splits.train_clips, x_train, y_train,
                             model.features, dataset.unlabeled)
    trainer = make_trainer(settings, network, source, splits.validation[:2], train_rng,
                           progress)
    if resume:
        trainer.load_state_dict(trainer_state)
    meta = {"job": asdict(settings), "synthetic": dataset.synthetic,
            "data_root": str(dataset.root), "subsets": songs}
    model_path = run_dir / "model.npz"

    def checkpoint(t):
        try:
            model.save(model_path, meta, t.state_dict())
        except OSError as exc:  # a full or read-only disk: say which file
            raise JobError(f"cannot write {model_path}: {exc.strerror or exc}") from None

    def periodic(t):
        if t.epoch % settings.checkpoint_every == 0:
            checkpoint(t)

    log(f"training {network.n_parameters:,} parameters ({type(network).__name__}); "
        f"{describe_settings(settings)}")
    train_began = time.perf_counter()
    try:
        with sigterm_as_interrupt():
            trainer.fit(settings.epochs, on_epoch_end=periodic)
    except TrainingInterrupted:
        checkpoint(trainer)
        raise JobInterrupted(f"interrupted: saved the state after epoch {trainer.epoch} to "
                             f"{model_path}; continue with --resume {run_dir}") from None
    except TrainingDiverged as exc:
        checkpoint(trainer)
        raise JobError(f"{exc}: stopped; {model_path} keeps the last good state (epoch "
                       f"{trainer.epoch}); try a lower --lr") from None
    train_seconds = time.perf_counter() - train_began
    checkpoint(trainer)
    try:
        report, collapse = write_results(run_dir, model, trainer, splits, dataset, settings,
                                         train_seconds, figures)
    except OSError as exc:  # a full disk after the checkpoint: say which file, keep the model
        raise JobError(f"cannot write {exc.filename or 'the report in ' + str(run_dir)}: "
                       f"{exc.strerror or exc}; the trained model is saved in {model_path}"
                       ) from None
    log("")
    log(report)
    log("")
    log(f"wrote {run_dir}/: {', '.join(written_files(network, figures))}")
    if collapse:
        log(collapse)
    log(f"next: numpy-sae predict {shlex.quote(str(run_dir))} your_song.mp3   (files or "
        "folders; --json, --plot)")
    return run_dir
