"""The ``numpy-sae`` command: train, evaluate, predict, synth, gradcheck, baselines, cv.

Every user mistake (a bad value, a missing folder, a damaged model file, an
unreadable song) ends with one line on stderr and a non-zero exit status,
never a traceback (``--debug`` shows it). ``main(argv)`` returns the exit
status, so tests and examples can call it directly. Defaults and choices come
from the run settings and the registries of optimizers, inputs and methods.
"""

import argparse
import contextlib
import math
import sys
import warnings
from dataclasses import replace
from functools import partial
from pathlib import Path

from .. import __version__
from ..data.audio import DOWNSAMPLING_METHODS, AudioError
from ..data.features import SIGNAL_INPUTS
from ..data.gtzan import DEFAULT_GENRES, GENRES, DataError
from ..data.splits import check_fractions
from ..data.synth import generate_dataset
from ..modelfile import ModelFileError
from ..nn.filterbanks import FRONT_INITS
from ..nn.model import CODE_ACTIVATIONS, FRONT_LEARNING, POOLINGS
from ..nn.optim import OPTIMIZERS
from ..teaching.exercises import STEP_HINTS as HINT_NAMES
from ..teaching.exercises import hint as exercise_hint
from ..teaching.gradcheck_demo import BUGS, run_gradcheck_demo
from ..teaching.remote import MEMORY_LIMIT_MB
from ..train import TrainingInterrupted
from . import baselines, crossval, diagnose, encode, exercises, job, predict, sweep
from .exercises import TRAINING_LIMIT
from .experiment import MAX_JOBS, SPLITS, STUDY_SETTINGS, JobError, RunSettings
from .gradescope import LIMITS, MAX_POINTS, within_limits
from .models import DECODERS, FRONT_ENDS, MODEL_KINDS, MODELS
from .outputs import check_name, folder_lock

EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130


class CommandError(Exception):
    """A problem to report in one line."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad values in one line (without the usage block)."""

    def error(self, message):
        raise CommandError(f"{self.prog}: {message} (see --help)")


# ----- argument types: each rejects a bad value with a message naming it -------------------
def _number(convert, accept, wanted):
    """An argparse type: convert the text, then accept it or say what was expected."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accept(value):  # NaN fails every comparison, so it lands here
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value
    return parse


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
# Bounds that keep a typo from asking for more memory than any machine has.
code_size = _number(int, lambda v: 1 <= v <= 65_536, "a code size from 1 to 65536")
crop_count = _number(int, lambda v: 0 <= v <= 100_000, "a number of crops from 0 to 100000")
seed_int = _number(int, lambda v: 0 <= v < 2 ** 63, "an integer >= 0")
# The grader's own limits: the bounds gradescope.check_config holds config.json to.
seconds_limit = _number(float, partial(within_limits, "time_limit"),
                        f"a number of {LIMITS['time_limit'][2]}")
gradescope_seconds = _number(float, partial(within_limits, "timeout"),
                             f"a number of {LIMITS['timeout'][2]}")
memory_mb = _number(float, partial(within_limits, "memory_limit"),
                    f"a number of {LIMITS['memory_limit'][2]}")
training_seconds = _number(float, partial(within_limits, "training_limit"),
                           f"a number of {LIMITS['training_limit'][2]}")
points_float = _number(float, lambda v: 0 <= v <= MAX_POINTS,
                       f"a number of points from 0 to {MAX_POINTS:g}")
unit_float = _number(float, lambda v: 0 <= v <= 1, "a number in [0, 1]")
factor_int = _number(int, lambda v: 1 <= v <= 10_000, "a downsampling factor from 1 to 10000")
window_int = _number(int, lambda v: 1 <= v <= 100_000, "a number of samples from 1 to 100000")
gain_float = _number(float, lambda v: 0 <= v <= 60, "a number of decibels from 0 to 60")
clip_count = _number(int, lambda v: 1 <= v <= 10_000, "a number of clips from 1 to 10000")
clip_seconds = _number(float, lambda v: 0 < v <= 3600, "a number of seconds in (0, 3600]")
ensemble_size = _number(int, lambda v: 1 <= v <= 100, "an ensemble size from 1 to 100")
segment_float = _number(float, lambda v: 0 < v <= 600, "a number of seconds in (0, 600]")
# The same bounds as RunSettings.check, so a value out of range is a usage error (exit 2)
# that names the option, not a failed run.
epoch_count = _number(int, lambda v: 1 <= v <= 10_000_000, "a number of epochs from 1 to "
                      "10000000")
warmup_epochs = _number(int, lambda v: 0 <= v <= 10_000_000, "a number of epochs from 0 to "
                        "10000000")
batch_count = _number(int, lambda v: 1 <= v <= 10_000_000, "a batch size from 1 to 10000000")
learning_rate = _number(float, lambda v: 0 < v <= 1e3, "a learning rate in (0, 1000]")
decay_float = _number(float, lambda v: 0 <= v <= 1e6, "a weight decay from 0 to 1000000")
anchor_float = _number(float, lambda v: 0 <= v <= 1e9, "a weight from 0 to 1e9")
scale_float = _number(float, lambda v: 0 <= v <= 1e3, "a factor of --lr from 0 to 1000")
filter_count = _number(int, lambda v: 1 <= v <= 100_000, "a number of filters from 1 to 100000")
job_count = _number(int, lambda v: 1 <= v <= MAX_JOBS, f"a number of processes from 1 to {MAX_JOBS}")


def code_dims(text):
    """Comma-separated code sizes, each bounded as --code-dim is."""
    try:
        dims = [code_size(v) for v in text.split(",") if v.strip()]
    except argparse.ArgumentTypeError:
        dims = []
    if not dims:
        raise argparse.ArgumentTypeError(f"expected comma-separated code sizes from 1 to "
                                         f"65536, like 4,8,16,32,64,128, got {text!r}")
    return dims


def points_list(text):
    """--points: FUNC=N,... into {function: points}, each from 0 to MAX_POINTS."""
    _, graded, _ = _graded_names("")
    points = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if name.strip() not in graded or not 0 <= number <= MAX_POINTS:
            raise argparse.ArgumentTypeError(
                f"{item!r}: write FUNC=N with a graded function and N from 0 to "
                f"{MAX_POINTS:g} ({', '.join(sorted(graded))})")
        points[name.strip()] = int(number) if number.is_integer() else number
    return points


def _graded_names(text, extra=()):
    """Comma-separated names: (the names, the graded functions and ``extra`` they may be,
    the names that are neither)."""
    from ..teaching.exercises import GRADED
    known = [name for _, name in GRADED] + list(extra)
    names = [n.strip() for n in text.split(",") if n.strip()]
    return names, known, [n for n in names if n not in known]


def hidden_list(text):
    """--hidden: graded functions, or "training", comma-separated."""
    names, _, wrong = _graded_names(text, extra=("training",))
    if wrong:
        raise argparse.ArgumentTypeError(f"not a graded function (or training): "
                                         f"{', '.join(wrong)}")
    return names


def function_list(text):
    names, known, unknown = _graded_names(text)
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected graded function names ({', '.join(known)}), "
                                         f"got {text!r}")
    return names


def output_path(text):
    """A folder or file to write: never empty (an empty --out would write into the
    current folder's default place without a word)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"expected a folder or file name, got {text!r}")
    return text


def genre_list(text):
    names = [g.strip() for g in text.split(",") if g.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated genre names, got {text!r}")
    return names


def fractions(text):
    try:
        return list(check_fractions(text.split(",")))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three fractions >= 0 summing to 1, like "
                                         f"0.7,0.15,0.15 (train and validation > 0), "
                                         f"got {text!r}") from None


# ----- the parser --------------------------------------------------------------------------
DEFAULTS = RunSettings()


# What train and cv train when no --model is given: the segment model, the best of the
# kinds on real songs (docs/results.md); baselines and sweep compare the study's model.
DEFAULT_MODEL = {"train": "segment", "cv": "segment"}


def _by_model(name):
    """A setting's default for the joint and the segment model, as --help says it."""
    def shown(value):
        return f"{value:g}" if isinstance(value, float) else str(value)
    joint = getattr(DEFAULTS, name)
    segment = MODEL_KINDS["segment"].defaults.get(name, joint)
    if segment == joint:
        return shown(joint)
    return f"joint {shown(joint)}, segment {shown(segment)}"


JOBS_HELP = ("processes that read the audio files (or generate the synthetic clips); 1 "
             "reads in this process (default: 2 cores when there are 64 or more files, "
             "16 or more clips to generate)")


def _data_options(p, with_training=True, quick=False, default_model="joint"):
    p.add_argument("--data", metavar="DIR", help="GTZAN folder (Kaggle Data/, genres_original/, "
                   "Marsyas genres/ or any <genre>/<audio files> tree); default: $GTZAN_DIR, "
                   "./Data/genres_original, ./data/gtzan, else the synthetic dataset")
    if with_training:
        p.add_argument("--model", choices=MODELS,
                       help="; ".join(f"'{kind.name}': {kind.summary}"
                                      + (f" (default {', '.join(f'{k} {v}' for k, v in kind.defaults.items())})"
                                         if kind.defaults else "")
                                      for kind in MODEL_KINDS.values())
                       + f" (default: {default_model}"
                       + ("; --study: the study's joint model)" if default_model != "joint"
                          else ")"))
        p.add_argument("--unlabeled", metavar="DIR", help="a folder of audio without genres "
                       "(any layout): its windows train the reconstruction only, never the "
                       "classifier")
    p.add_argument("--genres", type=genre_list, default=None, metavar="A,B,...",
                   help="genres to use, comma-separated, or 'all' for every genre folder found "
                   f"(default: {','.join(DEFAULT_GENRES)})")
    p.add_argument("--method", choices=DOWNSAMPLING_METHODS, default=None,
                   help="downsampling: 'mean' of blocks (the study) or anti-aliased 'poly'")
    p.add_argument("--no-cache", action="store_true", help="rebuild the arrays; write no cache")
    p.add_argument("--cache-dir", metavar="DIR", help="where arrays and synthetic data are cached "
                   "(default: $NUMPY_SAE_CACHE or ~/.cache/numpy_sae)")
    p.add_argument("-j", "--jobs", type=job_count, metavar="N", help=JOBS_HELP)
    if not with_training:
        return
    p.add_argument("--epochs", type=epoch_count,
                   help=f"training epochs ({_by_model('epochs')}"
                   + ("; --quick 15)" if quick else ")"))
    p.add_argument("--batch-size", type=batch_count, help=f"minibatch size ({_by_model('batch_size')})")
    p.add_argument("--lr", type=learning_rate, help=f"learning rate ({DEFAULTS.lr:g})")
    p.add_argument("--gamma", type=unit_float, help=f"weight of the reconstruction term in "
                   f"[0, 1] ({_by_model('gamma')}; the study: 0.9)")
    p.add_argument("--code-dim", type=code_size, help=f"code size ({DEFAULTS.code_dim})")
    p.add_argument("--code-activation", choices=CODE_ACTIVATIONS,
                   help=f"activation of the code layer ({_by_model('code_activation')}; the "
                   "study: tanh)")
    p.add_argument("--decoder", choices=DECODERS,
                   help=f"'mirror': the encoder's hidden layers reversed (the study); 'linear': "
                   f"one linear layer from the code ({DEFAULTS.decoder})")
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS),
                   help=f"optimizer ({DEFAULTS.optimizer})")
    p.add_argument("--weight-decay", type=decay_float,
                   help=f"decoupled weight decay for adam (AdamW) ({_by_model('weight_decay')})")
    p.add_argument("--patience", type=positive_int,
                   help="early stopping: epochs without a lower validation loss (off by default)")
    p.add_argument("--input", choices=SIGNAL_INPUTS,
                   help="network input: raw 'waveform' windows (default, the study's premise) "
                   "or the log-magnitude 'spectrum' of each window (an ablation)")
    p.add_argument("--factor", type=factor_int, help=f"downsampling factor before windows are "
                   f"cut ({_by_model('factor')}: 551 Hz and full rate)")
    p.add_argument("--window", type=window_int, help=f"samples per window, or per frame of a "
                   f"segment model ({_by_model('window')})")
    p.add_argument("--hop", type=window_int, help="samples between the frames of a segment "
                   "model (default: half its --window)")
    p.add_argument("--segment-seconds", type=segment_float, metavar="S",
                   help=f"length of the segments a segment model classifies "
                   f"({DEFAULTS.segment_seconds:g})")
    p.add_argument("--pooling", choices=POOLINGS,
                   help="how a segment model summarizes its frames' codes: 'meanstd', the "
                   "mean and standard deviation of each code unit (default), or "
                   "'meanlogstd', the mean and the log of the standard deviation")
    p.add_argument("--front-end", choices=FRONT_ENDS,
                   help="what a segment model reading the waveform puts before its encoder: "
                   "'filterbank', learnable filter pairs, their energy and its log (a "
                   "spectrogram as a layer), or 'none' (default)")
    p.add_argument("--front-init", choices=FRONT_INITS,
                   help="the filterbank's start: 'fourier' (rfft bins and a Hann window), "
                   "'mel' (mel-spaced bins, one Hann window; default), 'gabor' (mel-spaced "
                   "bands, each as wide as its mel band) or 'random' (free Glorot rows)")
    p.add_argument("--front-filters", type=filter_count, metavar="K",
                   help=f"number of filter pairs, i.e. bands ({DEFAULTS.front_filters})")
    p.add_argument("--front-learning", choices=FRONT_LEARNING,
                   help="what of the filterbank learns: 'free' (every weight; default), "
                   "'parametric' (centre frequencies and one window) or 'frozen' (nothing)")
    p.add_argument("--front-anchor", type=anchor_float, metavar="A",
                   help="L2-SP: weight decay of the filterbank toward its start, not toward "
                   f"zero ({DEFAULTS.front_anchor:g})")
    p.add_argument("--front-warmup", type=warmup_epochs, metavar="E",
                   help="epochs the filterbank stays frozen while the layers above adapt to "
                   "it, before it learns (0)")
    p.add_argument("--front-lr-scale", type=scale_float, metavar="F",
                   help="the filterbank's learning rate as a factor of --lr once it learns "
                   "(1; 0 keeps it frozen)")
    p.add_argument("--gain-db", type=gain_float, metavar="DB",
                   help="augmentation of a segment model: each training segment gets a random "
                   "gain in +-DB decibels (0: off)")
    p.add_argument("--crops", type=crop_count, metavar="N",
                   help=f"draw N windows per training clip at random offsets every epoch "
                   f"(augmentation; 0 = the study's fixed grid; {_by_model('crops')})")
    p.add_argument("--study", action="store_true",
                   help="the study's exact training settings: " + ", ".join(
                       f"{k} {v}" for k, v in STUDY_SETTINGS.items()) + " (explicit options "
                   "still override)")
    p.add_argument("--seed", type=seed_int, default=None,
                   help=f"seed of every random choice ({DEFAULTS.seed})")


def _quiet_option(p):
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress lines (generation, loading, epochs, folds); results and "
                   "errors still print")


def _grader_limits(p):
    p.add_argument("--training-limit", type=training_seconds, default=TRAINING_LIMIT,
                   metavar="S", help=f"seconds the training test may run ({TRAINING_LIMIT:g})")
    p.add_argument("--memory-limit", type=memory_mb, default=MEMORY_LIMIT_MB, metavar="MB",
                   help="address space of the process running the student's code, POSIX "
                   f"only ({MEMORY_LIMIT_MB}: within Gradescope's 768 MB container)")


def _json_option(p, what):
    p.add_argument("--json", action="store_true",
                   help=f"print {what} as one JSON document on stdout (messages go to stderr)")


def build_parser():
    parser = _Parser(prog="numpy-sae", description="A deep softmax autoencoder for music genres, "
                     "in NumPy.")
    parser.add_argument("--version", action="version", version=f"numpy_sae {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error instead of one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("train", help="train on GTZAN (or the synthetic default) and write a run "
                       "folder", description="The main job: data -> trained model, report, plots.")
    _data_options(p, quick=True, default_model=DEFAULT_MODEL["train"])
    p.add_argument("--split", choices=SPLITS, default=None,
                   help="'song': whole songs in train/validation/test (honest, default); "
                   "'segment': the study's random split of windows (leaky); 'filtered': the "
                   "fault-filtered GTZAN split the field reports (443/197/290 clips; needs "
                   "the full GTZAN)")
    p.add_argument("--split-files", nargs=3, metavar=("TRAIN", "VALID", "TEST"),
                   help="a published split: three text files of relative paths")
    p.add_argument("--fractions", type=fractions, default=None,
                   help="train,validation,test fractions (song: 0.7,0.15,0.15; segment: 0.8,0.2,0)")
    p.add_argument("--out", type=output_path, default=None, metavar="DIR",
                   help=f"parent of the run folder ({DEFAULTS.out})")
    p.add_argument("--name", help="run folder name (default: date-time and data name)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run exactly "
                   "(its settings are reused; --epochs may extend it)")
    p.add_argument("--no-figures", action="store_true",
                   help="write the model, metrics, report and history but no PNG figures "
                   "(scripted runs: drawing them takes about a second per run)")
    p.add_argument("--checkpoint-every", type=positive_int, default=DEFAULTS.checkpoint_every,
                   metavar="N", help=f"save the model file every N epochs "
                   f"({DEFAULTS.checkpoint_every}) and at the end")
    p.add_argument("--quick", action="store_true", help="a run that finishes in seconds: a small "
                   "synthetic set and 15 epochs")
    _quiet_option(p)

    p = sub.add_parser("evaluate", help="score a model file on a data folder",
                       description="Window- and song-level metrics of a model on every clip of "
                       "its genres under DIR.")
    p.add_argument("model", help="model.npz or a run folder")
    p.add_argument("--data", required=True, metavar="DIR", help="folder of music, as for train")
    _json_option(p, "the figures")
    _quiet_option(p)
    p.add_argument("--no-cache", action="store_true", help="rebuild the arrays; write no cache")
    p.add_argument("--cache-dir", metavar="DIR", help="where arrays are cached (default: "
                   "$NUMPY_SAE_CACHE or ~/.cache/numpy_sae)")
    p.add_argument("-j", "--jobs", type=job_count, metavar="N", help=JOBS_HELP)

    p = sub.add_parser("predict", help="genre probabilities of your own music (any format)",
                       description="Averages the window probabilities of each file (song level).")
    p.add_argument("model", help="model.npz or a run folder")
    p.add_argument("files", nargs="+", metavar="FILE_OR_DIR",
                   help="audio files, or folders searched for them at any depth: WAV and AU; "
                   "MP3, FLAC, OGG, Opus, M4A, AIFF ... with pip install \"numpy_sae[audio]\"")
    p.add_argument("--force", action="store_true", help="replace existing --plot pictures")
    _json_option(p, "each file's genre, probabilities and timeline")
    p.add_argument("--plot", metavar="PNG", help="draw the genre probabilities along each song "
                   "(window by window) with the song-level verdict; one file per song when "
                   "several are given")

    p = sub.add_parser("synth", help="write the synthetic GTZAN-shaped dataset",
                       description="Writes DIR/genres_original/<genre>/<genre>.000NN.wav.")
    p.add_argument("dir", help="output folder")
    p.add_argument("--genres", type=genre_list, default=list(DEFAULT_GENRES),
                   help="comma-separated genre names, or 'all' for all ten")
    p.add_argument("--clips", type=clip_count, default=100,
                   help="clips per genre (100; at most 10000)")
    p.add_argument("--duration", type=clip_seconds, default=30.0,
                   help="seconds per clip (30; at most 3600)")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="seed of the generator; the same seed writes byte-identical files (0)")
    p.add_argument("-j", "--jobs", type=job_count, metavar="N", help=JOBS_HELP)

    p = sub.add_parser("gradcheck", help="check every gradient of a model numerically",
                       description="Prints each parameter's shape and max relative error "
                       "between backprop and centered differences.")
    p.add_argument("--size", choices=("small", "study"), default="small",
                   help="'small' checks every entry of a small model; 'study' samples entries "
                   "of the full 430k-parameter model")
    p.add_argument("--entries", type=positive_int, default=8,
                   help="entries sampled per tensor with --size study (8)")
    p.add_argument("--gamma", type=unit_float, default=0.9,
                   help="weight of the reconstruction term in the checked loss (0.9)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                   help="float32 shows why checks need float64")
    p.add_argument("--break", dest="bug", default=None, choices=tuple(BUGS), metavar="BUG",
                   help="break one backward pass on purpose to see the check catch it "
                   f"({', '.join(BUGS)})")
    p.add_argument("--seed", type=seed_int, default=0,
                   help="seed of the weights, the examples and the sampled entries (0)")

    p = sub.add_parser("baselines", help="joint model vs the study's baselines on one split",
                       description="Joint softmax autoencoder, autoencoder + separately trained "
                       "classifier, and a classifier on raw windows: one table.")
    _data_options(p)

    p = sub.add_parser("cv", help="song-level K-fold cross-validation",
                       description="Stratified song-level folds; per-fold and mean +- std "
                       "accuracy, pooled confusion matrix and per-genre scores.")
    _data_options(p, default_model=DEFAULT_MODEL["cv"])
    p.add_argument("--folds", type=positive_int, default=5, help="number of folds (5)")
    p.add_argument("--ensemble", type=ensemble_size, default=1, metavar="K",
                   help="train K networks per fold from different seeds and average their "
                   "probabilities (1: a single network)")
    p.add_argument("--out", type=output_path, metavar="DIR",
                   help="also write DIR/folds.csv (one row per fold) "
                   "and DIR/summary.json")
    p.add_argument("--force", action="store_true", help="replace existing --out files")
    _json_option(p, "the summary and every fold")
    _quiet_option(p)

    p = sub.add_parser("sweep", help="cross-validation per code size: R^2 and accuracy",
                       description="Song-level cross-validation once per code size; writes "
                       "sweep.csv, sweep.md and sweep.png: reconstruction R^2 of the autoencoder "
                       "and of PCA of the same size, window and song accuracy.")
    _data_options(p)
    p.add_argument("--code-dims", type=code_dims, default=[4, 8, 16, 32, 64, 128],
                   metavar="K,K,...", help="code sizes to try (4,8,16,32,64,128)")
    p.add_argument("--folds", type=positive_int, default=5, help="number of folds (5)")
    p.add_argument("--out", type=output_path, default=DEFAULTS.out, metavar="DIR",
                   help=f"parent of the sweep folder ({DEFAULTS.out})")
    p.add_argument("--name", help="sweep folder name (default: sweep-<date-time>)")

    p = sub.add_parser("encode", help="write the codes of audio files (.npz or .csv)",
                       description="Per-window codes and each file's mean code, with file "
                       "names, for use as features elsewhere.")
    p.add_argument("model", help="model.npz or a run folder")
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_DIR",
                   help="audio files, or folders searched for them at any depth")
    p.add_argument("--out", type=output_path, required=True, metavar="CODES",
                   help="codes.npz or codes.csv")
    p.add_argument("--force", action="store_true", help="replace an existing --out file")

    p = sub.add_parser("exercises", help="backprop exercises: write a student file, grade it",
                       description="'init DIR' writes DIR/backprop.py (or, with --notebook, "
                       "the notebook assignment DIR/backprop.ipynb) with every function body "
                       "to write; 'check DIR' grades it (exit status 0 only when all pass); "
                       "'key' and 'bundle' are for instructors. The instructor's guide: "
                       "examples/INSTRUCTORS.md.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    q = actions.add_parser("init", help="write DIR/backprop.py (or backprop.ipynb) for a "
                           "student")
    q.add_argument("dir", help="the student's folder")
    # The answer key has its own instructor command (key); these stay for older scripts.
    q.add_argument("--solutions", action="store_true", help=argparse.SUPPRESS)
    q.add_argument("--break", dest="bug", choices=tuple(BUGS), metavar="BUG",
                   help=argparse.SUPPRESS)
    q.add_argument("--level", choices=("guided", "derive"), default="guided",
                   help="'derive': docstrings give shapes and the forward only, the student "
                   "derives every gradient; 'guided' (default): the formulas are given")
    q.add_argument("--notebook", action="store_true",
                   help="write DIR/backprop.ipynb, the notebook assignment (checks under each "
                   "function, inline questions, curves), instead of backprop.py")
    q.add_argument("--source", metavar="PIP_TARGET",
                   help="with --notebook: where the notebook's first cell installs numpy_sae "
                   "from in a kernel without it (Colab), e.g. "
                   "git+https://your.course/numpy_sae.git or a folder; without it the cell "
                   "asks the student to set one")
    q = actions.add_parser("key", help="(instructors) write the answer key: the library's "
                           "own bodies, optionally with one classic mistake planted")
    q.add_argument("dir", help="a folder for the key (not a student's)")
    q.add_argument("--notebook", action="store_true",
                   help="the notebook assignment's key (answers to the inline questions too)")
    q.add_argument("--source", metavar="PIP_TARGET",
                   help="with --notebook: where the notebook's first cell installs numpy_sae "
                   "from in a kernel without it (Colab), e.g. "
                   "git+https://your.course/numpy_sae.git or a folder; without it the cell "
                   "asks the student to set one")
    q.add_argument("--break", dest="bug", choices=tuple(BUGS), metavar="BUG",
                   help=f"plant one classic mistake, to grade in class ({', '.join(BUGS)})")
    q = actions.add_parser("check", help="grade DIR/backprop.py or DIR/backprop.ipynb",
                           description="Exit status: 0 when every graded function is correct "
                           "(and, for a whole file, the model learns with them), 1 when "
                           "something is wrong or missing, 2 for a usage error.")
    q.add_argument("dir", help="the student's folder")
    q.add_argument("--only", type=function_list, metavar="FUNC,...",
                   help="grade only these functions (and the other half of each pair)")
    q.add_argument("--json", action="store_true",
                   help="print the results as JSON (status, points, max relative error, "
                   "message per function) instead of the table")
    q.add_argument("--results", metavar="FILE", help="also write the results in the format "
                   "Gradescope's autograder reads (results.json: score, tests)")
    q.add_argument("--force", action="store_true", help="replace an existing --results file")
    q.add_argument("--hint", nargs=2, metavar=("N", "FUNC"),
                   help="print the hints of FUNC up to step N (1: the rule, 2: the shapes, "
                   "3: the formula) instead of grading")
    q.add_argument("--time-limit", type=seconds_limit, default=20.0, metavar="S",
                   help="seconds each function may run before it is stopped (20)")
    _grader_limits(q)
    _quiet_option(q)
    q = actions.add_parser("bundle", help="(instructors) write the Gradescope autograder zip",
                           description="Writes OUT.zip for Gradescope's 'Zip file upload' "
                           "autograder: setup.sh (installs numpy_sae, shipped inside, on the "
                           "default Ubuntu 22.04 image, Python 3.10), run_autograder (grades "
                           "backprop.py or backprop.ipynb; results.json on every path) and "
                           "config.json (the settings below).")
    q.add_argument("out", help="the zip file to write (not replaced without --force)")
    q.add_argument("--points", type=points_list, default={}, metavar="FUNC=N,...",
                   help="points of some functions (others: 1), e.g. "
                   "joint_network_loss=4,adam_step=2")
    q.add_argument("--training-points", type=points_float, default=2, metavar="N",
                   help="points for 'the model learns with your functions' (2)")
    q.add_argument("--visibility", choices=("visible", "hidden", "after_due_date",
                                            "after_published"),
                   help="Gradescope visibility of every test (default: Gradescope's own)")
    q.add_argument("--hidden", type=hidden_list, default=[], metavar="FUNC,...",
                   help="tests students never see (they still count), e.g. "
                   "joint_network_loss,training")
    q.add_argument("--max-hint", type=int, choices=(0, 1, 2, 3), default=1,
                   help="the hint step results show: 0 none, 1 the rule (default)")
    q.add_argument("--time-limit", type=seconds_limit, default=20.0, metavar="S",
                   help="seconds each function may run (20)")
    _grader_limits(q)
    q.add_argument("--timeout", type=gradescope_seconds, default=600, metavar="S",
                   help="the autograder timeout set on Gradescope (600, its default): "
                   "training gets what is left of it, and the functions' scores are kept "
                   "if Gradescope stops the run")
    q.add_argument("--force", action="store_true", help="replace an existing OUT")

    p = sub.add_parser("diagnose", help="pictures of the run's network learning, per layer",
                       description="Retrains the run's network (and sigmoid, ReLU and naive-"
                       "init variants) on its data for a few epochs, recording saturation, "
                       "gradient norms and update ratios per layer; writes RUN_DIR/diagnose/.")
    p.add_argument("model", help="a run folder (or its model.npz)")
    p.add_argument("--epochs", type=positive_int, default=20, help="epochs per variant (20)")
    p.add_argument("--force", action="store_true",
                   help="replace the files of an earlier diagnose (never what a link points to)")

    p = sub.add_parser("cache", help="list (or clear) the cached clips and synthetic data",
                       description="What numpy_sae keeps in its cache folder: loaded clips, "
                       "descriptors and synthetic datasets, with their sizes. Only its own "
                       "entries are listed or removed.")
    p.add_argument("--cache-dir", metavar="DIR", help="the cache folder (default: "
                   "$NUMPY_SAE_CACHE or ~/.cache/numpy_sae)")
    p.add_argument("--clear", action="store_true", help="remove every entry listed")

    p = sub.add_parser("reconstruct", help="decode a song to listen to what the code keeps",
                       description="Writes the decoded signal and, beside it as "
                       "<name>.original.wav, the downsampled original, at the downsampled rate.")
    p.add_argument("model", help="model.npz or a run folder")
    p.add_argument("song", help="an audio file (WAV, AU; compressed formats with the [audio] "
                   "extra)")
    p.add_argument("--out", type=output_path, required=True, metavar="WAV",
                   help="where to write, e.g. rec.wav")
    p.add_argument("--force", action="store_true",
                   help="replace existing output files (never the song itself)")
    return parser


# ----- commands ----------------------------------------------------------------------------
TRAINING_OPTIONS = ("epochs", "batch_size", "lr", "gamma", "code_dim", "code_activation",
                    "decoder", "optimizer", "weight_decay", "patience", "input", "crops",
                    "factor", "window", "hop", "segment_seconds", "pooling", "front_end",
                    "front_init", "front_filters", "front_learning", "front_anchor",
                    "front_warmup", "front_lr_scale", "gain_db")


def _run_settings(args):
    """RunSettings from the options: our defaults, then --study / --quick, then explicit values."""
    quick = getattr(args, "quick", False)
    split = getattr(args, "split", None) or DEFAULTS.split
    model = args.model or ("joint" if args.study else DEFAULT_MODEL.get(args.command, "joint"))
    settings = RunSettings(
        data=args.data, model=model, unlabeled=args.unlabeled,
        genres=args.genres or list(DEFAULTS.genres),
        split=split,
        split_files=getattr(args, "split_files", None),
        fractions=getattr(args, "fractions", None) or ([0.8, 0.2, 0.0] if split == "segment"
                                                       else list(DEFAULTS.fractions)),
        method=args.method or DEFAULTS.method,
        seed=DEFAULTS.seed if args.seed is None else args.seed,
        out=getattr(args, "out", None) or DEFAULTS.out,
        name=getattr(args, "name", None),
        checkpoint_every=getattr(args, "checkpoint_every", DEFAULTS.checkpoint_every),
        cache_dir=args.cache_dir, use_cache=not args.no_cache, jobs=args.jobs, quick=quick)
    if args.study:
        if settings.model != "joint":
            raise CommandError(f"--study reproduces the study's joint model; it does not apply "
                               f"to --model {settings.model}")
        settings = replace(settings, **STUDY_SETTINGS)
    settings = replace(settings, **MODEL_KINDS[settings.model].defaults)
    if split == "segment" and args.crops is None:
        settings.crops = 0  # crops are drawn per song; a window-level split has none to draw from
    if quick:
        settings.epochs = 15
    given = {k: getattr(args, k) for k in TRAINING_OPTIONS if getattr(args, k) is not None}
    _refuse_unused(given, settings.model)
    settings = replace(settings, **given)
    _warn_idle_filterbank(settings, given)
    if settings.weight_decay and settings.optimizer != "adam":
        raise CommandError(f"--weight-decay is implemented for adam only, not "
                           f"--optimizer {settings.optimizer}")
    return settings.check()


def _refuse_unused(given, model):
    """An option the chosen model ignores is named in a warning, never dropped silently;
    filterbank options without the filterbank are an error."""
    uses = MODEL_KINDS[model].settings
    unused = [f"--{name.replace('_', '-')}" for name in given if name not in uses]
    if unused:
        warnings.warn(f"{', '.join(unused)} {'is' if len(unused) == 1 else 'are'} not used by "
                      f"--model {model}: ignored")
    if given.get("front_end", "none") == "none":
        for name in given:
            if name.startswith("front_") and name != "front_end":
                raise CommandError(f"--{name.replace('_', '-')} sets the filterbank: add "
                                   "--front-end filterbank")


def _warn_idle_filterbank(settings, given):
    """Filterbank options that cannot take effect are named, never listed as applying."""
    if settings.front_end == "none":
        return
    if settings.front_learning == "frozen":
        idle = [f"--{n.replace('_', '-')}" for n in ("front_anchor", "front_warmup",
                                                     "front_lr_scale") if n in given]
        if idle:
            warnings.warn(f"{', '.join(idle)} {'has' if len(idle) == 1 else 'have'} no effect "
                          "with --front-learning frozen (the filterbank never learns): "
                          "ignored")
    elif settings.front_warmup >= settings.epochs or settings.front_lr_scale == 0:
        why = (f"--front-warmup {settings.front_warmup} keeps it frozen for all "
               f"{settings.epochs} epochs" if settings.front_warmup >= settings.epochs
               else "--front-lr-scale 0 gives it no learning rate")
        warnings.warn(f"the filterbank never learns: {why} (say --front-learning frozen "
                      "if that is meant)")


RESUME_KEEPS = ("data", "model", "unlabeled", "genres", "split_files", "fractions", "name",
                "seed", "split", "method", "out", "cache_dir",
                *(k for k in TRAINING_OPTIONS if k != "epochs"))


def cmd_train(args):
    if args.resume:
        changed = [k for k in RESUME_KEEPS if getattr(args, k, None) is not None]
        changed += [k for k in ("study", "quick") if getattr(args, k)]
        if changed:
            raise CommandError("--resume continues a run with its own settings; only --epochs "
                               "may change, not " + ", ".join(f"--{k.replace('_', '-')}"
                                                              for k in changed))
        if not Path(args.resume).is_dir():
            raise CommandError(f"run folder not found: {args.resume}")
    elif args.name is not None:
        try:
            check_name(args.name)
        except JobError as exc:
            raise CommandError(str(exc)) from None
    settings = _run_settings(args)
    progress = (lambda line: None) if args.quiet else None
    if args.resume:
        settings.epochs = args.epochs  # None keeps the stored number
        # Two resumes of one run would train from the same state and mix their files.
        with folder_lock(args.resume):
            job.run_training(settings, resume=args.resume, figures=not args.no_figures,
                             progress=progress)
        return 0
    job.run_training(settings, resume=args.resume, figures=not args.no_figures,
                     progress=progress)
    return 0


def _progress(args):
    """Where progress lines go: stderr with --json (stdout holds the document), nowhere
    with -q, else stdout."""
    if getattr(args, "quiet", False):
        return lambda line: None
    if getattr(args, "json", False):
        return lambda line: print(line, file=sys.stderr)
    return print


def cmd_evaluate(args):
    predict.run_evaluate(args.model, args.data, cache_dir=args.cache_dir,
                         use_cache=not args.no_cache, as_json=args.json,
                         progress=_progress(args), jobs=args.jobs)
    return 0


def cmd_predict(args):
    return EXIT_FAILED if predict.run_predict(args.model, args.files, plot=args.plot,
                                              force=args.force, as_json=args.json) else 0


def cmd_synth(args):
    genres = list(GENRES) if args.genres == ["all"] else args.genres
    shortest = DEFAULTS.window * DEFAULTS.factor / 22050
    if args.duration < shortest:
        warnings.warn(f"clips of {args.duration:g} s are shorter than one window of the main "
                      f"job ({shortest:.2f} s): they cannot be trained on")
    needed = len(genres) * args.clips * args.duration * 22050 * 2  # 16-bit samples
    if needed > 200e9:
        raise CommandError(f"{len(genres)} genres x {args.clips} clips x {args.duration:g} s "
                           f"would write {needed / 1e9:.0f} GB; at most 200 GB")
    # SIGTERM acts like Ctrl-C, so the staging folder is removed either way.
    with job.sigterm_as_interrupt():
        root = generate_dataset(args.dir, genres=genres, clips_per_genre=args.clips,
                                duration=args.duration, seed=args.seed, workers=args.jobs)
    print(f"wrote {len(genres) * args.clips} clips to {root}")
    return 0


def cmd_gradcheck(args):
    return run_gradcheck_demo(size=args.size, entries=args.entries, gamma=args.gamma,
                              dtype=args.dtype, bug=args.bug, seed=args.seed)


def _autoencoders_only(args, command, why):
    if args.model is not None and not MODEL_KINDS[args.model].reconstructs:
        raise CommandError(f"{command} takes --model joint or segment: {why}")


def cmd_baselines(args):
    _autoencoders_only(args, "baselines", "it trains a softmax autoencoder, its baselines and "
                       "the feature baseline side by side")
    baselines.run_baselines(_run_settings(args))
    return 0


def _check_folds(args):
    # Before any data is loaded, so a bad combination is a usage error (exit 2).
    try:
        crossval.check_folds(args.patience, args.folds)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def cmd_cv(args):
    _check_folds(args)
    crossval.run_cv_command(_run_settings(args), folds=args.folds, ensemble=args.ensemble,
                            progress=_progress(args), as_json=args.json, out_dir=args.out,
                            force=args.force)
    return 0


def cmd_sweep(args):
    _autoencoders_only(args, "sweep", "code sizes belong to an autoencoder")
    _check_folds(args)
    sweep.run_sweep(_run_settings(args), args.code_dims, folds=args.folds, name=args.name)
    return 0


def cmd_encode(args):
    return EXIT_FAILED if encode.run_encode(args.model, args.inputs, args.out,
                                            force=args.force) else 0


def cmd_exercises(args):
    if args.action == "init":
        if args.bug and not args.solutions:
            raise CommandError("--break plants a mistake in the answer key: use "
                               "numpy-sae exercises key DIR --break BUG")
        if args.source and not args.notebook:
            raise CommandError("--source sets the notebook's install cell: add --notebook")
        exercises.run_init(args.dir, args.solutions, args.bug, level=args.level,
                           notebook=args.notebook, source=args.source)
        return 0
    if args.action == "key":
        if args.bug and args.notebook:
            raise CommandError("--break plants a mistake in backprop.py; the notebook key "
                               "takes no --break")
        if args.source and not args.notebook:
            raise CommandError("--source sets the notebook's install cell: add --notebook")
        exercises.run_init(args.dir, True, args.bug, notebook=args.notebook, source=args.source)
        return 0
    if args.action == "bundle":
        from .gradescope import write_bundle
        try:
            write_bundle(args.out, {"points": args.points, "training_points":
                                    args.training_points, "visibility": args.visibility,
                                    "hidden": args.hidden,
                                    "max_hint": args.max_hint, "time_limit": args.time_limit,
                                    "training_limit": args.training_limit,
                                    "memory_limit": args.memory_limit, "timeout": args.timeout},
                         force=args.force)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        return 0
    if args.hint:
        step, function = args.hint
        if not step.isdigit() or not 1 <= int(step) <= 3 or function not in HINT_NAMES:
            raise CommandError(f"--hint takes a step 1, 2 or 3 and a graded function "
                               f"({', '.join(HINT_NAMES)}), got {step} {function}")
        print("\n".join(exercise_hint(function, int(step))))
        return 0
    # SIGTERM (a CI job's timeout) acts like Ctrl-C: the grading child is ended too.
    with job.sigterm_as_interrupt():
        passed = exercises.run_check(args.dir, only=args.only, as_json=args.json,
                                     results=args.results, force=args.force,
                                     time_limit=args.time_limit,
                                     training_limit=args.training_limit,
                                     memory_limit=args.memory_limit, progress=_progress(args))
    return 0 if passed else EXIT_FAILED


def cmd_diagnose(args):
    diagnose.run_diagnose(args.model, epochs=args.epochs, force=args.force)
    return 0


def cmd_cache(args):
    from .cache import run_cache
    run_cache(args.cache_dir, clear=args.clear)
    return 0


def cmd_reconstruct(args):
    encode.run_reconstruct(args.model, args.song, args.out, force=args.force)
    return 0


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
            "synth": cmd_synth, "gradcheck": cmd_gradcheck, "baselines": cmd_baselines,
            "cv": cmd_cv, "sweep": cmd_sweep, "encode": cmd_encode,
            "reconstruct": cmd_reconstruct, "exercises": cmd_exercises, "cache": cmd_cache,
            "diagnose": cmd_diagnose}


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv=None):
    """Run the command line; returns the exit status."""
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    with warnings.catch_warnings(), _printable_names():
        # One line per warning while a command runs; the caller's handler comes back after.
        warnings.showwarning = _show_warning
        args = None
        try:
            args = build_parser().parse_args(argv)
            return COMMANDS[args.command](args)
        except CommandError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        except job.JobInterrupted as exc:
            print(str(exc), file=sys.stderr)
            return EXIT_INTERRUPTED
        except TrainingInterrupted as exc:
            # cv, sweep, baselines, diagnose: what finished was printed (sweep wrote it).
            print(f"interrupted: {exc}; nothing more was trained", file=sys.stderr)
            return EXIT_INTERRUPTED
        except (DataError, ModelFileError, AudioError, JobError, ValueError, OSError) as exc:
            if debug:
                raise
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        except MemoryError:
            if debug:
                raise
            advice = {"synth": "fewer --clips or a shorter --duration",
                      "exercises": "the student's code asked for it"}.get(
                          getattr(args, "command", None),
                          "fewer clips, --crops or a smaller --code-dim")
            print(f"error: out of memory: more than this machine has ({advice})",
                  file=sys.stderr)
            return EXIT_FAILED
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED


@contextlib.contextmanager
def _printable_names():
    """File names that are not valid UTF-8 print with backslash escapes, not a crash."""
    streams = [s for s in (sys.stdout, sys.stderr) if hasattr(s, "reconfigure")]
    before = [s.errors for s in streams]
    for stream in streams:
        stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        for stream, errors in zip(streams, before):
            stream.reconfigure(errors=errors)


if __name__ == "__main__":
    sys.exit(main())
