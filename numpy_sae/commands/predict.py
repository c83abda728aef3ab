"""The ``predict`` and ``evaluate`` commands: a trained model on your own audio.

``predict`` gives each file's genre probabilities (window probabilities
averaged over the whole file); one unreadable file is reported and the
others go on. ``evaluate`` scores a model on every clip of its genres in a
folder, at window and song level.
"""

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..audio_model import AudioModel
from ..data.audio import AUDIO_EXTENSIONS, AudioError
from ..data.descriptors import build_featureset
from ..data.gtzan import DataError, build_clipset, find_audio, genres_present, resolve_root
from .outputs import check_new_files, one_line, written_output
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


def expand_inputs(inputs, err=None, command="predict"):
    """Files as given, and every audio file under each folder, in order. A folder with
    no audio file is named on ``err`` (and yields nothing); so are the files in folders
    that are not audio (cover art, playlists), counted in one line per folder."""
    err = err or (lambda line: print(line, file=sys.stderr))
    for item in inputs:
        path = Path(item)
        if not path.is_dir():
            yield path
            continue
        found = find_audio(path)
        others = [p for p in other_files(path) if p not in set(found)]
        if others:
            shown = ", ".join(p.name for p in others[:3]) + (" ..." if len(others) > 3 else "")
            err(f"numpy-sae {command}: note: {path}: skipped {len(others)} file(s) that are "
                f"not audio ({shown})")
        if not found:
            err(f"numpy-sae {command}: error: {path}: no audio files in it "
                f"({', '.join(AUDIO_EXTENSIONS)})")
            yield EMPTY_FOLDER
        yield from found


EMPTY_FOLDER = None  # what expand_inputs yields for a folder without audio: a failure


def other_files(folder):
    """Every regular, visible file under ``folder`` (at any depth), sorted."""
    return sorted(Path(d) / n for d, subs, names in os.walk(folder)
                  for n in names if not n.startswith(".")
                  and not any(part.startswith(".") for part in Path(d).relative_to(folder).parts))


def run_predict(model, files, out=print, err=None, plot=None, force=False, as_json=False):
    """Print one line per file (and, with ``plot``, draw its genre timeline); return how
    many inputs could not be classified (a folder without audio counts as one). A folder
    stands for every audio file under it. ``as_json``: one JSON document on ``out``,
    {"model", "predictions": [Prediction.to_dict()...], "errors": [...]}."""
    err = err or (lambda line: print(line, file=sys.stderr))
    errors = []

    def failed(line):
        if ": error: " in line:
            errors.append(line.split(": error: ", 1)[1])
        err(line)

    expanded = list(expand_inputs(files, failed))
    empty = expanded.count(EMPTY_FOLDER)
    files = [f for f in expanded if f is not EMPTY_FOLDER]
    if plot is not None and Path(plot).suffix.lower() != ".png":
        raise ValueError(f"--plot must name a .png file, got {plot}")
    pictures = timeline_paths(plot, files) if plot is not None else [None] * len(files)
    check_new_files([p for p in pictures if p is not None], [model_path(model), *files], force)
    model_file = model_path(model)
    model, _, _ = AudioModel.load(model_file)
    names = model.genre_names
    done = read_each(files, model.predict_file, "predict", failed)
    results = []
    for i, path, prediction in done:
        picture = pictures[i]
        ranked = "  ".join(f"{g} {p:.3f}" for g, p in prediction.probabilities.items())
        steps = f"{len(prediction.timeline)} {prediction.unit}s"
        if not as_json:
            out(one_line(f"{path}: {prediction.genre}  ({ranked}; {steps})"))
        result = prediction.to_dict()
        if picture is not None:
            from .. import plots  # matplotlib is imported only when figures are drawn
            with written_output(picture, force) as tmp:
                plots.plot_timeline(prediction.timeline, names, prediction.seconds_per_step,
                                    f"{Path(path).name}: {prediction.genre} "
                                    f"({prediction.probabilities[prediction.genre]:.2f}, "
                                    f"mean of {steps})", tmp)
            result["timeline_png"] = str(picture)
            if not as_json:
                out(f"  timeline: {picture}")
        results.append(result)
    if as_json:
        out(json.dumps({"model": str(model_file), "genre_names": names,
                        "predictions": results, "errors": errors}, indent=1))
    return len(files) - len(done) + empty


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
            err(one_line(f"numpy-sae {command}: error: {named}"))
        except MemoryError:
            err(one_line(f"numpy-sae {command}: error: {path}: out of memory reading it "
                         "(skipped)"))
    return done


def run_evaluate(model, data, cache_dir=None, use_cache=True, out=print, as_json=False,
                 progress=None, jobs=None):
    """Score a model file on every clip of its genres under ``data``; print the report
    (``as_json``: one JSON document); ``progress`` takes the loading lines; ``jobs``
    processes read the files (None: automatic)."""
    progress = progress or out
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
    # Whole songs, as predict reads them, whatever grid the model was trained on.
    whole_songs = replace(audio_model.preprocessing, max_windows=None)
    clipset = build(data, present, whole_songs, cache_dir=cache_dir,
                    use_cache=use_cache, min_genres=1, workers=jobs, log=progress)
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
    if as_json:
        out(json.dumps({"model": str(model_file), "data": str(data), "clips": len(clipset),
                        "genres_scored": present, "genre_names": names,
                        "unit": audio_model.unit, "notes": header[1:],
                        "skipped_files": [list(s) for s in clipset.skipped],
                        "results": results}, indent=1))
    else:
        out(format_report(results, audio_model.genre_names, header, audio_model.unit))
    return results
