"""The main job: a folder of music (or the synthetic default) to a trained model and a report.

``run_training(config)`` finds the data, builds windows, splits by song,
trains the joint model with checkpoints, evaluates at window and song level,
and writes ``runs/<name>/`` (model file, history.csv, metrics.json,
report.txt, PNG figures). The CLI and examples/train_gtzan.py call it.
"""

import csv
import json
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from ..modelfile import load_model_file, save_model_file
from ..data.features import feature_dim, make_features
from ..data.gtzan import DEFAULT_GENRES, DataError, Preprocessing, build_clipset, default_cache_dir
from ..metrics import accuracy, classification_report, evaluate_predictions
from ..nn.model import SoftmaxAutoencoderNetwork
from ..data.splits import read_split_files, segment_split, song_split
from ..data.synth import GENRES as SYNTH_GENRES
from ..data.synth import generate_dataset
from ..train import (RandomCropSource, Trainer, TrainingDiverged, TrainingInterrupted,
                    WindowSource, make_optimizer)

SEARCH_PATHS = ("Data/genres_original", "data/gtzan")
SYNTH_FULL = {"clips_per_genre": 100, "duration": 30.0}
SYNTH_QUICK = {"clips_per_genre": 12, "duration": 10.0}


# The study's training settings, as --study reproduces them: Adam at 1e-4 for 200 epochs
# on the fixed grid of 25 windows per clip, gamma 0.9, no weight decay, no early stopping.
STUDY_SETTINGS = {"lr": 1e-4, "epochs": 200, "batch_size": 512, "gamma": 0.9, "crops": 0,
                  "weight_decay": 0.0, "patience": None, "input": "waveform", "optimizer": "adam"}


class JobError(RuntimeError):
    """The job stopped for a reason the user should read (one line)."""


class JobInterrupted(JobError):
    """Ctrl-C (or SIGTERM): the state of the last finished epoch was saved."""


@dataclass
class JobConfig:
    """Every setting of a training run; stored in the model file for --resume."""

    data: str | None = None
    genres: list = field(default_factory=lambda: list(DEFAULT_GENRES))
    # Defaults chosen by 5-fold song-level cross-validation on real clips (README,
    # "Beyond the study"): lr 1e-3 and fresh random crops every epoch beat the study's
    # settings; with standardized inputs the reconstruction sums to ~450 per window at
    # first, so gamma 0.9 would drown the cross-entropy (~1.4) and 0.01 balances them.
    epochs: int = 100
    batch_size: int = 512
    lr: float = 1e-3
    gamma: float = 0.01
    code_dim: int = 64
    optimizer: str = "adam"
    weight_decay: float = 0.0
    patience: int | None = None
    split: str = "song"
    split_files: list | None = None
    fractions: list = field(default_factory=lambda: [0.7, 0.15, 0.15])
    input: str = "waveform"
    crops: int = 100
    method: str = "mean"
    factor: int = 40
    window: int = 500
    max_windows: int | None = 25
    seed: int = 0
    out: str = "runs"
    name: str | None = None
    checkpoint_every: int = 10
    cache_dir: str | None = None
    use_cache: bool = True
    quick: bool = False

    def preprocessing(self):
        return Preprocessing(factor=self.factor, method=self.method, window=self.window,
                             max_windows=self.max_windows)


# ----- data ------------------------------------------------------------------------------
def locate_data(config, log):
    """A GTZAN root from --data, $GTZAN_DIR or the usual places; else the synthetic default.

    Returns (root, synthetic: bool).
    """
    if config.data:
        if not Path(config.data).expanduser().is_dir():
            raise DataError(f"data folder not found: {config.data}")
        return Path(config.data).expanduser(), False
    if os.environ.get("GTZAN_DIR"):
        root = Path(os.environ["GTZAN_DIR"]).expanduser()
        if not root.is_dir():
            raise DataError(f"$GTZAN_DIR points to a missing folder: {root}")
        return root, False
    for candidate in SEARCH_PATHS:
        if Path(candidate).is_dir():
            return Path(candidate), False
    synth = SYNTH_QUICK if config.quick else SYNTH_FULL
    genres = list(SYNTH_GENRES) if config.genres == ["all"] else config.genres
    cache = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    root = cache / (f"synthetic-{'-'.join(genres)}-{synth['clips_per_genre']}x"
                    f"{synth['duration']:g}s-seed{config.seed}")
    log("=" * 78)
    log("SYNTHETIC DATA: no GTZAN folder was given or found (--data, $GTZAN_DIR,")
    log(f"./{SEARCH_PATHS[0]}, ./{SEARCH_PATHS[1]}). Everything below is measured on")
    log("generated audio, not real music: it shows the code works, not how well it")
    log("classifies real songs. Point --data at a GTZAN download for real results.")
    log("=" * 78)
    if not (root / "genres_original" / "SYNTHETIC.json").exists():
        log(f"generating {len(genres)} x {synth['clips_per_genre']} synthetic clips of "
            f"{synth['duration']:g} s into {root} (once; later runs reuse them) ...")
        began = time.perf_counter()
        generate_dataset(root, genres=genres, seed=config.seed, **synth)
        log(f"generated in {time.perf_counter() - began:.1f} s")
    return root, True


def load_clips(config, log):
    """Locate the data (or make the synthetic set) and load its clips.

    Returns (clipset, root, synthetic: bool).
    """
    root, synthetic = locate_data(config, log)
    began = time.perf_counter()
    clipset = build_clipset(root, config.genres, config.preprocessing(), cache_dir=config.cache_dir,
                            use_cache=config.use_cache, log=log)
    log(f"{len(clipset)} clips of {len(clipset.genre_names)} genres "
        f"({', '.join(clipset.genre_names)}) ready in {time.perf_counter() - began:.1f} s")
    return clipset, root, synthetic


@dataclass
class Splits:
    """Window arrays of each subset: x (n, D) features, y (n,), song (n,) clip ids."""

    train: tuple
    validation: tuple
    test: tuple
    train_clips: np.ndarray | None  # clip indices, when the split is by song


def make_splits(clipset, config, rng):
    """Cut windows and split them as the config says."""
    def subset(clips):
        x, y, song = clipset.windows(clips)
        return make_features(x, config.input), y, song

    if config.split == "segment":
        x, y, song = clipset.windows()
        x = make_features(x, config.input)
        parts = segment_split(len(y), rng, config.fractions)
        return Splits(*[(x[p], y[p], song[p]) for p in parts], train_clips=None)
    if config.split_files:
        clips = read_split_files(config.split_files, clipset.paths)
    elif config.split == "song":
        clips = song_split(clipset.labels, rng, config.fractions)
    else:
        raise ValueError(f"split must be 'song' or 'segment', got {config.split!r}")
    return Splits(*[subset(c) for c in clips], train_clips=clips[0])


def training_source(config, clipset, train_clips, x_train, y_train, encode=None):
    """Where training windows come from: fresh random crops of the training songs
    (``config.crops`` per song per epoch) or the fixed grid ``x_train`` (n, D), ``y_train`` (n,).

    encode : optional callable applied after the input features (e.g. a frozen encoder).
    """
    def features(x):
        x = make_features(x, config.input)
        return x if encode is None else encode(x)

    if config.crops:
        if train_clips is None:
            raise JobError("random crops need a song-level split (--split song)")
        return RandomCropSource(clipset, train_clips, config.crops, transform=features)
    return WindowSource(x_train if encode is None else encode(x_train), y_train)


def new_joint_model(config, n_classes, x_train, seed, gamma=None):
    """The joint network for ``config`` with its input scaling fitted on ``x_train`` (n, D).

    gamma : overrides ``config.gamma`` (the baselines train gamma 1 too).
    """
    model = SoftmaxAutoencoderNetwork(input_dim=feature_dim(config.input, config.window),
                                      n_classes=n_classes, code_dim=config.code_dim,
                                      gamma=config.gamma if gamma is None else gamma, seed=seed)
    model.fit_scaling(x_train)
    return model


def make_trainer(config, model, source, validation, rng, log=None):
    """A Trainer with the optimizer, batch size and early stopping of ``config``."""
    return Trainer(model, make_optimizer(config.optimizer, config.lr, config.weight_decay),
                   source, validation=validation, batch_size=config.batch_size, rng=rng,
                   patience=config.patience, log=log)


# ----- the run folder ------------------------------------------------------------------------
def _write_history(history, path):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        keys = list(history)
        writer.writerow(keys)
        for row in zip(*(history[k] for k in keys)):
            writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])


def _meta(config, clipset, synthetic, root):
    return {"genre_names": clipset.genre_names, "preprocessing": clipset.preprocessing.to_dict(),
            "input": config.input, "job": asdict(config), "synthetic": synthetic,
            "data_root": str(root)}


def run_training(config, resume=None, log=print):
    """Run the main job.

    Parameters
    ----------
    config : JobConfig; when resuming, the stored one is used, except ``epochs``
        when it is not None
    resume : path of a run folder to continue, or None
    log : callable taking one line

    Returns
    -------
    Path of the run folder.
    """
    if resume:
        run_dir = Path(resume)
        model, meta, trainer_state = load_model_file(run_dir / "model.npz")
        if trainer_state is None:
            raise JobError(f"{run_dir / 'model.npz'} holds no training state to resume")
        try:
            stored = JobConfig(**meta["job"])
        except (KeyError, TypeError) as exc:
            raise JobError(f"{run_dir / 'model.npz'}: stored run settings are unusable ({exc})")
        if config.epochs is not None:  # the only setting a resume may change: run longer
            stored.epochs = config.epochs
        config = stored
        log(f"resuming {run_dir} from epoch {trainer_state['epoch']} to {config.epochs}")
    clipset, root, synthetic = load_clips(config, log)
    seeds = np.random.SeedSequence(config.seed).spawn(3)
    split_rng, init_rng, train_rng = (np.random.default_rng(s) for s in seeds)
    splits = make_splits(clipset, config, split_rng)
    x_train, y_train, _ = splits.train
    log(f"windows: train {len(y_train)}, validation {len(splits.validation[1])}, "
        f"test {len(splits.test[1])} (split: {'files' if config.split_files else config.split})")
    if len(splits.validation[1]) == 0:
        raise DataError("the validation split is empty: use more clips or other fractions")

    if not resume:
        model = new_joint_model(config, len(clipset.genre_names), x_train, init_rng)
        stem = Path(config.data).name if config.data and not synthetic else "synthetic"
        name = config.name or f"{datetime.now():%Y%m%d-%H%M%S}-{stem}"
        run_dir = Path(config.out) / name
        if (run_dir / "model.npz").exists():
            raise JobError(f"run folder {run_dir} already holds a model; pick another --name "
                           f"or continue it with --resume {run_dir}")
        run_dir.mkdir(parents=True, exist_ok=True)
    source = training_source(config, clipset, splits.train_clips, x_train, y_train)
    trainer = make_trainer(config, model, source, splits.validation[:2], train_rng, log)
    if resume:
        trainer.load_state_dict(trainer_state)
    meta = _meta(config, clipset, synthetic, root)
    model_path = run_dir / "model.npz"

    def checkpoint(t):
        save_model_file(model_path, model, meta, t.state_dict())

    def periodic(t):
        if t.epoch % config.checkpoint_every == 0:
            checkpoint(t)

    log(f"training {model.n_parameters:,} parameters: {config.epochs} epochs, batch "
        f"{config.batch_size}, {config.optimizer} lr {config.lr:g}, gamma {config.gamma:g}, "
        f"input {config.input}" + (f", {config.crops} random crops per clip" if config.crops else ""))
    train_began = time.perf_counter()
    # SIGTERM (e.g. a closed terminal or a job scheduler) is treated like Ctrl-C. Only the
    # main thread may install handlers; elsewhere the default behaviour stays.
    previous = None
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL):
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        trainer.fit(config.epochs, on_epoch_end=periodic)
    except TrainingInterrupted:
        checkpoint(trainer)
        raise JobInterrupted(f"interrupted: saved the state after epoch {trainer.epoch} to "
                       f"{model_path}; continue with --resume {run_dir}") from None
    except TrainingDiverged as exc:
        checkpoint(trainer)
        raise JobError(f"{exc}: stopped; {model_path} keeps the last good state (epoch "
                       f"{trainer.epoch}); try a lower --lr") from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    train_seconds = time.perf_counter() - train_began
    checkpoint(trainer)
    report = write_results(run_dir, model, trainer, splits, clipset, config, synthetic, root,
                           train_seconds)
    log("")
    log(report)
    log("")
    log(f"wrote {run_dir}/: model.npz, history.csv, metrics.json, report.txt, "
        "curves.png, confusion.png, pca.png, reconstructions.png")
    return run_dir


def evaluate_subsets(model, subsets, genre_names):
    """Metrics dict per named subset {name: (x, y, song)}; empty subsets are left out."""
    return {name: evaluate_predictions(model.predict_proba(x), y, song, genre_names)
            for name, (x, y, song) in subsets.items() if len(y)}


def format_report(results, genre_names, header):
    """Report text: header lines, then window and song tables per subset, with chance."""
    lines = list(header)
    chance = 1.0 / len(genre_names)
    for subset, levels in results.items():
        for level in ("window", "song"):
            r = levels[level]
            lines.append("")
            lines.append(f"{subset} set, {level} level: accuracy {r['accuracy']:.3f} on {r['n']} "
                         f"{level}s (chance {chance:.3f})")
            lines.append(classification_report(np.array(r["confusion_matrix"]), genre_names))
    return "\n".join(lines)


def write_results(run_dir, model, trainer, splits, clipset, config, synthetic, root, seconds):
    """Evaluate, write metrics.json / report.txt / history.csv / figures; return the report."""
    from .. import plots  # matplotlib is imported only when figures are drawn

    names = clipset.genre_names
    results = evaluate_subsets(model, {"validation": splits.validation, "test": splits.test},
                               names)
    # Figures and the majority rate describe the test set, or validation when there is none.
    shown = "test" if len(splits.test[1]) else "validation"
    x_eval, y_eval, _ = getattr(splits, shown)
    x_train, y_train, _ = splits.train
    train_acc = accuracy(y_train, model.predict(x_train))
    chance = 1.0 / len(names)
    majority = float(np.bincount(y_eval, minlength=len(names)).max() / len(y_eval))
    data_note = ("SYNTHETIC audio (generated by numpy_sae.synth), not real music" if synthetic
                 else f"audio from {root}")
    header = [f"numpy_sae run {run_dir.name}", f"data: {data_note}",
              f"genres: {', '.join(names)}; {len(clipset)} clips, {len(clipset.skipped)} skipped",
              f"split: {'files' if config.split_files else config.split}; epochs run: "
              f"{trainer.epoch}; training time {seconds:.1f} s",
              f"train window accuracy (after training): {train_acc:.3f}",
              f"chance level: {chance:.3f} (uniform guess); majority class: {majority:.3f}"]
    if config.split == "segment":
        header.append("note: segment split puts windows of one song on both sides (leaky); "
                      "its accuracy overstates how well unseen songs are classified")
    report = format_report(results, names, header)
    (run_dir / "report.txt").write_text(report + "\n")
    metrics = {"run": run_dir.name, "synthetic": synthetic, "data_root": str(root),
               "genre_names": names, "chance": chance, "majority": majority,
               "train_window_accuracy": train_acc, "epochs_run": trainer.epoch,
               "train_seconds": seconds, "skipped_files": [list(s) for s in clipset.skipped],
               **results}
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    _write_history(trainer.history, run_dir / "history.csv")

    plots.plot_history(trainer.history, run_dir / "curves.png")
    plots.plot_confusion(np.array(results[shown]["window"]["confusion_matrix"]), names,
                         run_dir / "confusion.png", title=f"{shown} windows")
    plots.plot_pca({"raw input windows": x_eval, f"{model.code_dim}-dim codes": model.encode(x_eval),
                    f"{len(names)}-dim logits": model.logits(x_eval)}, y_eval, names,
                   run_dir / "pca.png")
    pick = np.random.default_rng(0).choice(len(y_eval), size=min(4, len(y_eval)), replace=False)
    plots.plot_reconstructions(x_eval[pick], model.reconstruct(x_eval[pick]),
                               [f"{names[y_eval[i]]} window" for i in pick],
                               run_dir / "reconstructions.png")
    return report
