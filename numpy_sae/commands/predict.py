"""The ``predict`` and ``evaluate`` commands: a trained model on your own audio.

``predict`` gives each file's genre probabilities (window probabilities
averaged over the whole file); one unreadable file is reported and the
others go on. ``evaluate`` scores a model on every clip of its genres in a
folder, at window and song level.
"""

import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..audio_model import AudioModel
from ..data.audio import AudioError
from ..data.descriptors import build_featureset
from ..data.gtzan import DataError, build_clipset, find_audio, genres_present, resolve_root
from .outputs import check_new_files, written_output
from .report import evaluate_subsets, format_report


def model_path(path):
    """A model file from a path that is either the file or a run folder."""
    path = Path(path)
    return path / "model.npz" if path.is_dir() else path


def timeline_paths(plot, files):
    """Where each file's timeline goes: ``plot`` itself for one file, else one per file
    named after it (timeline-<file stem>.png)."""
    plot = Path(plot)
    if len(files) == 1:
        return [plot]
    return [plot.with_name(f"{plot.stem}-{i:02d}-{Path(f).stem}{plot.suffix}")
            for i, f in enumerate(files)]


def expand_inputs(inputs):
    """Files as given, and every audio file under each folder, in order."""
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            yield from find_audio(path)
        else:
            yield path


def run_predict(model, files, out=print, err=None, plot=None, force=False):
    """Print one line per file (and, with ``plot``, draw its genre timeline); return how
    many files could not be classified. A folder stands for every audio file under it."""
    err = err or (lambda line: print(line, file=sys.stderr))
    files = list(expand_inputs(files))
    if plot is not None and Path(plot).suffix.lower() != ".png":
        raise ValueError(f"--plot must name a .png file, got {plot}")
    pictures = timeline_paths(plot, files) if plot is not None else [None] * len(files)
    check_new_files([p for p in pictures if p is not None], [model_path(model), *files], force)
    model, _, _ = AudioModel.load(model_path(model))
    names = model.genre_names
    seconds = model.seconds_per_window
    done = read_each(files, model.predict_file, "predict", err)
    for i, path, (proba, window_proba) in done:
        picture = pictures[i]
        order = np.argsort(-proba)
        ranked = "  ".join(f"{names[i]} {proba[i]:.3f}" for i in order)
        unit = f"{model.unit}s"
        out(f"{path}: {names[order[0]]}  ({ranked}; {len(window_proba)} {unit})")
        if picture is not None:
            from .. import plots  # matplotlib is imported only when figures are drawn
            with written_output(picture, force) as tmp:
                plots.plot_timeline(window_proba, names, seconds,
                                    f"{Path(path).name}: {names[order[0]]} "
                                    f"({proba[order[0]]:.2f}, mean of {len(window_proba)} "
                                    f"{unit})", tmp)
            out(f"  timeline: {picture}")
    return len(files) - len(done)


def read_each(files, read, command, err):
    """[(index, path, read(path))] for the files that can be read. A file that cannot
    (unreadable, corrupt, too short, out of memory) is named in one line on ``err`` and
    left out, and the others go on."""
    done = []
    for i, path in enumerate(files):
        try:
            done.append((i, path, read(path)))
        except (AudioError, OSError, ValueError) as exc:
            named = str(exc) if os.fsdecode(path) in str(exc) else f"{path}: {exc}"
            err(f"numpy-sae {command}: error: {named}")
        except MemoryError:
            err(f"numpy-sae {command}: error: {path}: out of memory reading it (skipped)")
    return done


def run_evaluate(model, data, cache_dir=None, use_cache=True, out=print):
    """Score a model file on every clip of its genres under ``data``; print the report."""
    model_file = model_path(model)
    audio_model, meta, _ = AudioModel.load(model_file)
    names = audio_model.genre_names
    # New songs of some of the model's genres (even one) can be scored: the folder's
    # genres are read and their labels put back in the model's order.
    present = [g for g in names if g in set(genres_present(data))]
    if not present:
        raise DataError(f"none of the model's genres ({', '.join(names)}) has a folder of "
                        f"audio under {data}")
    build = build_featureset if audio_model.input_kind == "descriptors" else build_clipset
    clipset = build(data, present, audio_model.preprocessing, cache_dir=cache_dir,
                    use_cache=use_cache, min_genres=1)
    clipset = replace(clipset, labels=np.array([names.index(present[i]) for i in clipset.labels],
                                               dtype=np.int64), genre_names=list(names))
    results = evaluate_subsets(audio_model.network, {"all clips": audio_model.windows(clipset)},
                               audio_model.genre_names)
    header = [f"model {model} on {data}: {len(clipset)} clips"
              + (f" of {len(present)} of its {len(names)} genres ({', '.join(present)})"
                 if len(present) < len(names) else "")]
    trained_on = meta.get("data_root")
    if isinstance(trained_on, str) and trained_on and Path(trained_on).is_dir() and \
            resolve_root(trained_on).resolve() == resolve_root(data).resolve():
        header.append("note: this is the folder the model was trained on, so these figures "
                      "include its training songs; they overstate accuracy on new music")
    out(format_report(results, audio_model.genre_names, header, audio_model.unit))
    return results
