"""What a finished run writes: evaluation of each subset, report text, results files, figures.

``write_results`` scores validation and test songs at window and song level
(next to chance), and writes ``report.txt``, ``metrics.json``,
``history.csv`` and the PNG figures into the run folder.
"""

import csv
import json

import numpy as np

from ..encodings import fit_pca_yardstick, reconstruction_r2
from ..metrics import accuracy, classification_report, evaluate_predictions
from .models import describe_settings, used_settings

RUN_FILES = ("model.npz", "history.csv", "metrics.json", "report.txt", "curves.png",
             "confusion.png", "pca.png", "reconstructions.png")


# Song-level 5-fold cross-validation on 61 real GTZAN clips of 6 genres (docs/results.md).
DEFAULT_MODEL_NOTE = ("the default: on 61 real GTZAN clips of 6 genres (5-fold song-level "
                      "cross-validation, 3 seeds) it classified 0.917 of held-out songs "
                      "right, the study's window model 0.613")


def model_lines(settings):
    """The report's first words on the model: which kind ran, why segment is the default,
    and the one flag for the study's model."""
    if settings.model == "segment":
        return [f"model: segment (log spectra of {settings.window}-sample frames, their codes "
                f"pooled over {settings.segment_seconds:g} s segments), {DEFAULT_MODEL_NOTE}; "
                "the study's window model: --model joint (its exact settings: --study)"]
    return [f"model: {settings.model} (--model {settings.model}); the default is the segment "
            f"model ({DEFAULT_MODEL_NOTE})"]


def small_split_notes(splits, genre_names):
    """Warnings for held-out sets too small or too lopsided to mean much: fewer than two
    songs per genre, no songs at all, or one genre holding most of them."""
    notes = []
    for name in ("validation", "test"):
        songs = np.unique(getattr(splits, name)[2])
        y = getattr(splits, name)[1]
        if len(songs) == 0:
            notes.append(f"note: the {name} set holds no song, so it has no figures; use "
                         "more songs, other --fractions, or numpy-sae cv")
            continue
        per_genre = np.bincount([y[getattr(splits, name)[2] == s][0] for s in songs],
                                minlength=len(genre_names))
        if per_genre.min() < 2:
            notes.append(f"note: the {name} set holds {len(songs)} songs ({per_genre.min()} "
                         f"of some genre): one song is {100 / len(songs):.0f} points of its "
                         "song accuracy; numpy-sae cv gives a figure every song counts in")
        if per_genre.max() > 2 * max(per_genre.mean(), 1):
            notes.append(f"note: the {name} set is lopsided ({per_genre.max()} of its "
                         f"{len(songs)} songs are {genre_names[int(per_genre.argmax())]}): "
                         "compare its accuracy with the majority rate, not with chance")
    return notes


def evaluate_subsets(network, subsets, genre_names):
    """Metrics dict per named subset {name: (x, y, song)}; empty subsets are left out.

    Raises ValueError naming the layer when the network gives NaN or inf anywhere (no
    figures are made from an overflowed forward)."""
    results = {}
    for name, (x, y, song) in subsets.items():
        if not len(y):
            continue
        try:
            with network.finite_forward():
                proba = network.predict_proba(x)
        except FloatingPointError as exc:
            raise ValueError(f"the model's layer {exc} gives NaN or inf values on the {name} "
                             "set (its weights or scaling are damaged or overflow); no "
                             "figures") from None
        results[name] = evaluate_predictions(proba, y, song, genre_names)
    return results


def collapse_warning(train_accuracy, n_classes, reconstructs):
    """The warning for a classifier that learned (almost) nothing, or None.

    A final training accuracy within 0.05 of chance means the classifier collapsed,
    e.g. to one class, whatever the reconstruction did. Only a model with a
    reconstruction term is told to lower --gamma.
    """
    chance = 1.0 / n_classes
    if not train_accuracy < chance + 0.05:
        return None
    gamma = ("a lower --gamma (the reconstruction may drown the cross-entropy), "
             if reconstructs else "")
    return (f"WARNING: the classifier collapsed: final training accuracy {train_accuracy:.3f} is "
            f"within 0.05 of chance ({chance:.3f}). Try {gamma}another --lr, or more --epochs.")


def reconstruction_lines(scores, rows="windows"):
    """Report lines for {subset: reconstruction_r2(...)}: the autoencoder next to PCA;
    ``rows`` names what is reconstructed ("windows", or a segment model's "frames")."""
    return [f"{subset} reconstruction R^2: autoencoder {r['autoencoder']:.3f}, PCA with "
            f"{r.get('pca_components', r['code_dim'])} components {r['pca']:.3f} (fitted on "
            f"the training {rows})"
            + ("; the code is as wide as the input or wider, so PCA keeps all of it"
               if r.get("pca_components", r["code_dim"]) < r["code_dim"] else "")
            for subset, r in scores.items()]


def format_report(results, genre_names, header, unit="window"):
    """Report text: header lines, then tables per subset at the level of ``unit`` ("window"
    or "segment": one row of predictions) and of songs, with chance."""
    lines = list(header)
    chance = 1.0 / len(genre_names)
    for subset, levels in results.items():
        for level in ("window", "song"):
            r = levels[level]
            name = unit if level == "window" else level
            lines.append("")
            lines.append(f"{subset} set, {name} level: accuracy {r['accuracy']:.3f} on {r['n']} "
                         f"{name}s (chance {chance:.3f})")
            lines.append(classification_report(np.array(r["confusion_matrix"]), genre_names))
    return "\n".join(lines)


def write_history(history, path):
    """history.csv: one row per epoch, the columns of ``train.HISTORY_COLUMNS``."""
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        keys = list(history)
        writer.writerow(keys)
        for row in zip(*(history[k] for k in keys)):
            writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])


def write_results(run_dir, model, trainer, splits, dataset, settings, seconds, figures=True):
    """Evaluate, write metrics.json / report.txt / history.csv / figures (not when
    ``figures`` is False).

    Returns (report text, the collapse warning or None).

    model : AudioModel; splits : experiment.Splits; dataset : experiment.Dataset
    """
    network, names, clipset = model.network, model.genre_names, dataset.clipset
    results = evaluate_subsets(network, {"validation": splits.validation, "test": splits.test},
                               names)
    # Figures and the majority rate describe the test set, or validation when there is none.
    shown = "test" if len(splits.test[1]) else "validation"
    x_eval, y_eval, _ = getattr(splits, shown)
    x_train, y_train, _ = splits.train
    train_acc = accuracy(y_train, network.predict(x_train))
    scored = [name for name in ("validation", "test")
              if network.reconstructs and len(getattr(splits, name)[1]) >= 2]
    yardstick = fit_pca_yardstick(network, x_train) if scored else None
    reconstruction = {name: reconstruction_r2(network, x_train, getattr(splits, name)[0],
                                              pca=yardstick) for name in scored}
    chance = 1.0 / len(names)
    majority = float(np.bincount(y_eval, minlength=len(names)).max() / len(y_eval))
    data_note = ("SYNTHETIC audio (generated by numpy_sae.data.synth), not real music"
                 if dataset.synthetic else f"audio from {dataset.root}")
    header = [f"numpy_sae run {run_dir.name}", *model_lines(settings), f"data: {data_note}",
              f"genres: {', '.join(names)}; {len(clipset)} clips, {len(clipset.skipped)} skipped",
              describe_settings(settings),
              f"split: {settings.split_name()}; epochs run: {trainer.epoch}; "
              f"training time {seconds:.1f} s",
              f"train {model.unit} accuracy (after training): {train_acc:.3f}",
              f"chance level: {chance:.3f} (uniform guess); majority class: {majority:.3f}",
              *reconstruction_lines(reconstruction,
                                    "frames" if model.segmented else "windows")]
    front = getattr(network, "front", None)
    if front is not None:
        header.append(f"filterbank front end: {front.n_filters} bands from {front.init} "
                      f"filters, learning {network.front_end['learning']}; the filters moved "
                      f"||W - W0|| / ||W0|| = {front.drift():.4f}")
    collapse = collapse_warning(train_acc, len(names), network.reconstructs)
    if collapse:
        header.append(collapse)
    if splits.missing:
        header.append(f"fault-filtered split: {len(splits.missing)} listed clip(s) missing or "
                      f"unreadable, left out: {', '.join(splits.missing)}")
    header += small_split_notes(splits, names)
    if settings.split_name() == "segment":
        header.append("note: segment split puts windows of one song on both sides (leaky); "
                      "its accuracy overstates how well unseen songs are classified")
    report = format_report(results, names, header, model.unit)
    # surrogateescape writes a file name that is not valid UTF-8 back as its own bytes.
    (run_dir / "report.txt").write_text(report + "\n", encoding="utf-8",
                                         errors="surrogateescape")
    metrics = {"run": run_dir.name, "synthetic": dataset.synthetic,
               "data_root": str(dataset.root), "genre_names": names, "chance": chance,
               "majority": majority, "model": settings.model, "seed": settings.seed,
               "versions": _versions(),
               "settings": used_settings(settings), "train_window_accuracy": train_acc,
               "epochs_run": trainer.epoch, "train_seconds": seconds,
               "reconstruction_r2": reconstruction, "collapsed": collapse is not None,
               "front_end_drift": None if front is None else front.drift(),
               "split_missing": list(splits.missing),
               "skipped_files": [list(s) for s in clipset.skipped], **results}
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    write_history(trainer.history, run_dir / "history.csv")
    if figures:
        _draw_figures(run_dir, model, trainer, results, shown, x_eval, y_eval, front)
    return report, collapse


def _draw_figures(run_dir, model, trainer, results, shown, x_eval, y_eval, front):
    """The run's PNG figures: curves, confusion, PCA views, reconstructions, filters."""
    from .. import plots  # matplotlib is imported only when figures are drawn
    network, names = model.network, model.genre_names
    plots.plot_history(trainer.history, run_dir / "curves.png", model.unit)
    plots.plot_confusion(np.array(results[shown]["window"]["confusion_matrix"]), names,
                         run_dir / "confusion.png", title=f"{shown} {model.unit}s")
    if model.segmented:
        # A segment is what the classifier sees: its pooled codes, not its frames.
        views = {f"{2 * network.code_dim}-dim pooled codes ({network.pooling})":
                 network.pooled_codes(x_eval)}
    else:
        views = {"raw input windows" if model.input_kind != "descriptors" else "descriptors":
                 x_eval}
        if network.reconstructs:
            views[f"{network.code_dim}-dim codes"] = network.encode(x_eval)
    views[f"{len(names)}-dim logits"] = network.logits(x_eval)
    plots.plot_pca(views, y_eval, names, run_dir / "pca.png")
    if network.reconstructs:
        # One row of each genre first (up to four panels), so every genre is seen.
        firsts = [int(np.flatnonzero(y_eval == c)[0]) for c in np.unique(y_eval)][:4]
        rest = np.setdiff1d(np.arange(len(y_eval)), firsts)
        extra = np.random.default_rng(0).choice(rest, size=min(4 - len(firsts), len(rest)),
                                                replace=False)
        pick = np.array(firsts + sorted(extra.tolist()), dtype=np.int64)
        shown_x = x_eval[pick]
        rebuilt = network.reconstruct(shown_x)
        if getattr(network, "front", None) is not None:
            # A filterbank's frames are shown as what the decoder aims at: band energies.
            target, _ = network.reconstruction_pair(shown_x)
            shown_x = (target * network.band_scale + network.band_mean).reshape(rebuilt.shape)
        if model.segmented:  # the middle frame of each segment
            middle = shown_x.shape[1] // 2
            shown_x, rebuilt = shown_x[:, middle], rebuilt[:, middle]
        if getattr(network, "front", None) is not None:
            axes = ("filterbank band", "log band energy")
        elif model.input_kind == "spectrum":
            axes = (f"frequency bin ({model.preprocessing.rate / model.preprocessing.window:g} "
                    "Hz each)", "log magnitude")
        else:
            axes = (f"sample ({model.preprocessing.rate:g} Hz)", "amplitude")
        plots.plot_reconstructions(shown_x, rebuilt,
                                   [f"{names[y_eval[i]]} {'frame' if model.segmented else 'window'}"
                                    for i in pick], run_dir / "reconstructions.png", *axes)
    if front is not None:
        plots.plot_filterbank(front.initial_filters(), front.filters(),
                              network.front_end["sample_rate"], run_dir / "filters.png")


def _versions():
    """What produced a run: numpy_sae's, NumPy's, SciPy's and Python's versions."""
    import platform

    import scipy

    from .. import __version__
    return {"numpy_sae": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "python": platform.python_version()}


def written_files(network, figures=True):
    """The files a run folder holds for this network (no PNG without ``figures``)."""
    names = [name for name in RUN_FILES if network.reconstructs or name != "reconstructions.png"]
    names += ["filters.png"] if getattr(network, "front", None) is not None else []
    return [name for name in names if figures or not name.endswith(".png")]
