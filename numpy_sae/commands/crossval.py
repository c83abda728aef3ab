"""Song-level K-fold cross-validation: how small real datasets should be judged.

Every song is held out exactly once. For fold k the test songs are fold k,
early stopping (when asked for) watches fold k+1, and the model trains on the
rest. Results are reported per fold, as mean +- std, and pooled over all
held-out songs (one confusion matrix, per-genre precision / recall / F1).
"""

import csv
import json
import time
from pathlib import Path

import numpy as np

from ..data.parallel import format_seconds
from ..data.splits import song_folds
from ..encodings import reconstruction_r2
from ..metrics import (
    accuracy,
    classification_report,
    evaluate_predictions,
    expected_calibration_error,
    song_accuracies,
)
from .experiment import JobError, load_dataset, make_trainer, new_audio_model, training_source
from .models import describe_settings
from .outputs import check_new_files, written_output
from .report import collapse_warning


def check_folds(patience, folds):
    """Raise ValueError when early stopping would leave a fold nothing to train on: the
    next fold validates, so it needs three folds at least."""
    if patience and folds < 3:
        raise ValueError(f"--patience in cross-validation needs --folds 3 or more (one fold "
                         f"tests, the next validates), got --folds {folds}")


def cross_validate(clipset, settings, folds=5, log=print, unlabeled=None, on_fold=None,
                   ensemble=1):
    """Run K-fold song-level cross-validation with the training settings of ``settings``.

    unlabeled : ClipSet of audio without genres, added to every fold's training windows.
    on_fold : callable(dict) or None, called with each fold's figures as it finishes
        (fold, window, song, song_logmean, song_vote, ece, r2_autoencoder, r2_pca, epochs).
    ensemble : networks trained per fold from different seeds; their probabilities are
        averaged (the first member is the single model's run, seed for seed).

    Returns
    -------
    dict with per-fold accuracies ("window", "song": lists) and reconstruction R^2 on
    the held-out songs ("r2_autoencoder", "r2_pca": lists), their means and stds
    ("<name>_mean", "<name>_std"), pooled confusion matrices ("window_cm", "song_cm",
    int arrays), n per fold and the folds whose classifier collapsed ("collapsed").
    """
    check_folds(settings.patience, folds)
    began = time.perf_counter()
    rng = np.random.default_rng(np.random.SeedSequence(settings.seed).spawn(1)[0])
    fold_ids = song_folds(clipset.labels, folds, rng)
    n_classes = len(clipset.genre_names)
    out = {"window": [], "song": [], "n_songs": [], "n_windows": [], "r2_autoencoder": [],
           "epochs": [],
           "r2_pca": [], "collapsed": [], "song_logmean": [], "song_vote": [], "ece": [],
           "front_drift": [],
           "window_cm": np.zeros((n_classes, n_classes), dtype=np.int64),
           "song_cm": np.zeros((n_classes, n_classes), dtype=np.int64)}
    for k in range(folds):
        test = fold_ids[k]
        val = fold_ids[(k + 1) % folds] if settings.patience else np.array([], dtype=np.int64)
        train = np.setdiff1d(np.arange(len(clipset)), np.concatenate([test, val]))
        proba = 0.0
        members = []  # each member's own figures: R^2, filter drift, training accuracy
        for member in range(ensemble):
            entropy = [settings.seed, k] if member == 0 else [settings.seed, k, member]
            init_rng, train_rng = (np.random.default_rng(s)
                                   for s in np.random.SeedSequence(entropy).spawn(2))
            model = new_audio_model(settings, clipset, init_rng)
            if k == 0 and member == 0:  # every fold reads the same frames: transform once
                table = model.frame_table(clipset)
            if member == 0:  # every member reads the same inputs: cut them once
                x_train, y_train, _ = model.windows(clipset, train, table)
                validation = model.windows(clipset, val, table)[:2] if len(val) else None
                x_test, y_test, song_test = model.windows(clipset, test, table)
            model.network.fit_scaling(x_train)
            trainer = make_trainer(settings, model.network,
                                   training_source(settings, clipset, train, x_train, y_train,
                                                   model.features, unlabeled),
                                   validation, train_rng)
            trainer.fit(settings.epochs)
            proba = proba + model.network.predict_proba(x_test) / ensemble
            network = model.network
            front = getattr(network, "front", None)
            members.append({
                "r2": (reconstruction_r2(network, x_train, x_test) if network.reconstructs
                       else {"autoencoder": float("nan"), "pca": float("nan")}),
                "drift": front.drift() if front is not None else np.nan,
                "train_accuracy": accuracy(y_train, network.predict(x_train)),
                "epochs": trainer.epoch})
        result = evaluate_predictions(proba, y_test, song_test, clipset.genre_names)
        rules = song_accuracies(proba, song_test, y_test)
        out["song_logmean"].append(rules["logmean"])
        out["song_vote"].append(rules["vote"])
        out["ece"].append(expected_calibration_error(proba, y_test))
        # An ensemble's R^2 and filter drift are its members' means (the accuracy above is
        # the averaged probabilities').
        out["front_drift"].append(float(np.mean([m["drift"] for m in members])))
        for level in ("window", "song"):
            out[level].append(result[level]["accuracy"])
            out[f"n_{level}s"].append(result[level]["n"])
            out[f"{level}_cm"] += np.array(result[level]["confusion_matrix"])
        r2 = {key: float(np.mean([m["r2"][key] for m in members]))
              for key in ("autoencoder", "pca")}
        out["r2_autoencoder"].append(r2["autoencoder"])
        out["r2_pca"].append(r2["pca"])
        unit = model.unit
        left = (time.perf_counter() - began) / (k + 1) * (folds - k - 1)
        log(f"fold {k + 1}/{folds}: {unit} {out['window'][-1]:.3f} ({out['n_windows'][-1]} "
            f"{unit}s), song {out['song'][-1]:.3f} ({out['n_songs'][-1]} songs), "
            + (f"R^2 autoencoder {r2['autoencoder']:.3f} / PCA {r2['pca']:.3f}"
               + (f" (mean of {ensemble} members)" if ensemble > 1 else "") + ", "
               if model.network.reconstructs else "")
            + (f"filters moved {out['front_drift'][-1]:.4f}, " if front is not None else "")
            + f"{trainer.epoch} epochs"
            + (f" (about {format_seconds(left)} left)" if k + 1 < folds else ""))
        out["epochs"].append(trainer.epoch)
        if on_fold is not None:
            on_fold({"fold": k + 1, "window": out["window"][-1], "song": out["song"][-1],
                     "song_logmean": rules["logmean"], "song_vote": rules["vote"],
                     "ece": out["ece"][-1],
                     "r2_autoencoder": r2["autoencoder"], "r2_pca": r2["pca"],
                     "epochs": trainer.epoch})
        for member, figures in enumerate(members):
            collapse = collapse_warning(figures["train_accuracy"], n_classes,
                                        model.network.reconstructs)
            if collapse:
                if k + 1 not in out["collapsed"]:
                    out["collapsed"].append(k + 1)
                log(f"fold {k + 1}" + (f", member {member + 1}" if ensemble > 1 else "")
                    + f": {collapse}")
    for name in ("window", "song", "r2_autoencoder", "r2_pca", "song_logmean", "song_vote",
                 "ece"):
        out[f"{name}_mean"] = float(np.mean(out[name]))
        out[f"{name}_std"] = float(np.std(out[name]))
    out["seconds"] = time.perf_counter() - began
    out["unit"] = model.unit
    return out


def format_cv(result, genre_names):
    reconstruction = ("" if np.isnan(result["r2_autoencoder_mean"]) else
                      f"reconstruction R^2 autoencoder {result['r2_autoencoder_mean']:.3f} +- "
                      f"{result['r2_autoencoder_std']:.3f} / PCA {result['r2_pca_mean']:.3f} "
                      f"+- {result['r2_pca_std']:.3f}, ")
    unit = result.get("unit", "window")
    lines = [f"{unit} accuracy {result['window_mean']:.3f} +- {result['window_std']:.3f}, "
             f"song accuracy {result['song_mean']:.3f} +- {result['song_std']:.3f}, "
             + reconstruction + f"{result['seconds']:.1f} s "
             f"(mean +- std over {len(result['window'])} folds; chance "
             f"{1 / len(genre_names):.3f})"]
    if "song_vote" in result:
        lines.append(f"songs by mean log-probability {result['song_logmean_mean']:.3f}, by "
                     f"majority vote {result['song_vote_mean']:.3f} (by mean probability "
                     f"above); {unit} calibration error (ECE) {result['ece_mean']:.3f}")
    if result["collapsed"]:
        lines.append(f"WARNING: the classifier collapsed to chance in fold(s) "
                     f"{', '.join(map(str, result['collapsed']))}: see the fold's warning")
    for level in ("window", "song"):
        cm = result[f"{level}_cm"]
        lines += ["", f"pooled {level}-level results over all held-out {level}s:",
                  classification_report(cm, genre_names), "confusion matrix (rows: true):"]
        width = max(len(n) for n in genre_names)
        lines.append(" " * (width + 1) + " ".join(f"{n[:6]:>6}" for n in genre_names))
        lines += [f"{name:{width}} " + " ".join(f"{v:6d}" for v in row)
                  for name, row in zip(genre_names, cm)]
    return "\n".join(lines)


FOLD_COLUMNS = ("fold", "songs", "rows", "row_accuracy", "song_accuracy", "song_logmean",
                "song_vote", "ece", "r2_autoencoder", "r2_pca", "epochs")


def fold_rows(result):
    """The per-fold table of a cross_validate result: one dict per fold, FOLD_COLUMNS."""
    return [{"fold": k + 1, "songs": result["n_songs"][k], "rows": result["n_windows"][k],
             "row_accuracy": result["window"][k], "song_accuracy": result["song"][k],
             "song_logmean": result["song_logmean"][k], "song_vote": result["song_vote"][k],
             "ece": result["ece"][k], "r2_autoencoder": result["r2_autoencoder"][k],
             "r2_pca": result["r2_pca"][k], "epochs": result["epochs"][k]}
            for k in range(len(result["window"]))]


def summary(result, genre_names, settings):
    """A JSON-able summary: mean and std of each figure, the folds, pooled confusions."""
    def plain(v):
        return None if isinstance(v, float) and not np.isfinite(v) else v
    return {"model": settings.model, "seed": settings.seed, "unit": result["unit"],
            "genre_names": list(genre_names), "chance": 1 / len(genre_names),
            **{f"{name}_{stat}": plain(result[f"{name}_{stat}"])
               for name in ("window", "song", "song_logmean", "song_vote", "ece",
                            "r2_autoencoder", "r2_pca") for stat in ("mean", "std")},
            "seconds": result["seconds"],
            "folds": [{k: plain(float(v)) if isinstance(v, (float, np.floating)) else int(v)
                       for k, v in row.items()} for row in fold_rows(result)],
            "collapsed_folds": list(result["collapsed"]),
            "window_confusion": result["window_cm"].tolist(),
            "song_confusion": result["song_cm"].tolist()}


def write_cv_outputs(out_dir, result, genre_names, settings, force=False):
    """``folds.csv`` (one row per fold) and ``summary.json`` in ``out_dir``; neither
    replaces an existing file without ``force``. Returns the two paths."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JobError(f"cannot create --out {out_dir}: {exc.strerror or exc}") from None
    table, document = out_dir / "folds.csv", out_dir / "summary.json"
    check_new_files([table, document], force=force)
    with written_output(table, force) as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, FOLD_COLUMNS)
            writer.writeheader()
            for row in fold_rows(result):
                writer.writerow({k: f"{v:.6g}" if isinstance(v, float) else v
                                 for k, v in row.items()})
    with written_output(document, force) as tmp:
        tmp.write_text(json.dumps(summary(result, genre_names, settings), indent=1))
    return table, document


def run_cv_command(settings, folds=5, log=print, ensemble=1, progress=None, as_json=False,
                   out_dir=None, force=False):
    """The ``numpy-sae cv`` command: data, folds, printed summary.

    progress : where loading and fold lines go (default ``log``)
    as_json : print the summary as one JSON document on ``log`` instead of the text
    out_dir : write folds.csv and summary.json there
    """
    progress = progress or log
    if out_dir is not None:  # refused before hours of training, not after
        check_new_files([Path(out_dir) / "folds.csv", Path(out_dir) / "summary.json"],
                        force=force)
    dataset = load_dataset(settings, progress)
    clipset = dataset.clipset
    progress(f"{folds}-fold song-level cross-validation on {len(clipset)} clips "
             f"({dataset.describe()}); {describe_settings(settings)}"
             + (f"; an ensemble of {ensemble} networks per fold, probabilities averaged"
                if ensemble > 1 else ""))
    result = cross_validate(clipset, settings, folds, progress, dataset.unlabeled,
                            ensemble=ensemble)
    if out_dir is not None:
        written = write_cv_outputs(out_dir, result, clipset.genre_names, settings, force)
        progress(f"wrote {written[0]} and {written[1]}")
    if as_json:
        log(json.dumps(summary(result, clipset.genre_names, settings), indent=1))
    else:
        log("")
        log(format_cv(result, clipset.genre_names))
    return result
