"""Classification metrics: accuracy, confusion matrix, precision / recall / F1, song voting.

Window-level metrics score every 500-sample window on its own; song-level
metrics average the window probabilities of each song and take the argmax,
which is the answer a listener wants ("what genre is this track?").
"""

import numpy as np


def accuracy(y_true, y_pred):
    """Fraction of equal labels; y_true, y_pred int arrays (N,). NaN when empty."""
    y_true = np.asarray(y_true)
    return float(np.mean(y_true == np.asarray(y_pred))) if len(y_true) else float("nan")


def confusion_matrix(y_true, y_pred, n_classes):
    """Counts C[i, j] of true class i predicted as j; int64 (n_classes, n_classes)."""
    return np.bincount(np.asarray(y_true) * n_classes + np.asarray(y_pred),
                       minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_scores(cm):
    """Precision, recall, F1 and support per class from a confusion matrix.

    Returns
    -------
    dict of arrays (n_classes,): "precision", "recall", "f1", "support"

    Notes
    -----
    precision_i = C[i, i] / sum_k C[k, i],  recall_i = C[i, i] / sum_k C[i, k],
    f1 = 2 p r / (p + r); a ratio with a zero denominator is reported as 0.
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def classification_report(cm, class_names):
    """The study's table: per-class precision, recall, F1, support, then accuracy and averages."""
    scores = per_class_scores(cm)
    total = int(scores["support"].sum())
    width = max(12, *(len(n) for n in class_names))
    lines = [f"{'':{width}}  precision  recall  f1-score  support"]
    for i, name in enumerate(class_names):
        lines.append(f"{name:{width}}  {scores['precision'][i]:9.3f}  {scores['recall'][i]:6.3f}  "
                     f"{scores['f1'][i]:8.3f}  {scores['support'][i]:7d}")
    acc = np.trace(cm) / total if total else float("nan")
    lines.append(f"{'accuracy':{width}}  {'':9}  {'':6}  {acc:8.3f}  {total:7d}")
    weights = scores["support"] / total if total else np.zeros(len(class_names))
    for label, w in (("macro avg", None), ("weighted avg", weights)):
        avg = [np.average(scores[k], weights=w) for k in ("precision", "recall", "f1")]
        lines.append(f"{label:{width}}  {avg[0]:9.3f}  {avg[1]:6.3f}  {avg[2]:8.3f}  {total:7d}")
    return "\n".join(lines)


def song_level(proba, song, y):
    """Song-level predictions by averaging window probabilities.

    Parameters
    ----------
    proba : float (n_windows, n_classes)
    song : int (n_windows,), song id of each window
    y : int (n_windows,), true class of each window (constant within a song)

    Returns
    -------
    songs : int (n_songs,), sorted song ids
    y_true, y_pred : int (n_songs,)
    song_proba : float (n_songs, n_classes), mean window probabilities
    """
    songs, inverse = np.unique(song, return_inverse=True)
    sums = np.zeros((len(songs), proba.shape[1]))
    np.add.at(sums, inverse, proba)
    counts = np.bincount(inverse, minlength=len(songs))
    song_proba = sums / counts[:, None]
    y_true = np.zeros(len(songs), dtype=np.int64)
    y_true[inverse] = y
    return songs, y_true, song_proba.argmax(axis=1), song_proba


def evaluate_predictions(proba, y, song, class_names):
    """Window- and song-level metrics of one subset as a JSON-able dict.

    proba : (n_windows, n_classes), y : (n_windows,), song : (n_windows,)
    """
    n_classes = len(class_names)
    out = {}
    _, y_song, pred_song, _ = song_level(proba, song, y)
    for level, truth, pred in (("window", y, proba.argmax(axis=1)), ("song", y_song, pred_song)):
        cm = confusion_matrix(truth, pred, n_classes)
        scores = per_class_scores(cm)
        out[level] = {"accuracy": accuracy(truth, pred), "n": int(len(truth)),
                      "confusion_matrix": cm.tolist(),
                      "per_class": {name: {k: float(scores[k][i]) if k != "support"
                                           else int(scores[k][i]) for k in scores}
                                    for i, name in enumerate(class_names)}}
    return out


SONG_RULES = ("mean", "logmean", "vote")  # how segment predictions become a song's verdict


def song_accuracies(proba, song, y):
    """Song-level accuracy under each rule of :data:`SONG_RULES`.

    proba : (n_windows, n_classes), song : (n_windows,), y : (n_windows,)

    Notes
    -----
    mean: argmax of the mean probability; logmean: argmax of the mean log-probability
    (a product of the segments' probabilities: one confident "no" vetoes); vote: the class
    most segments predict, ties to the larger mean probability.
    """
    eps = 1e-12
    _, y_true, mean_pred, song_proba = song_level(proba, song, y)
    _, _, log_pred, _ = song_level(np.log(np.maximum(proba, eps)), song, y)
    onehot = np.eye(proba.shape[1])[proba.argmax(axis=1)]
    _, _, _, vote_share = song_level(onehot, song, y)
    vote_pred = (vote_share + 1e-6 * song_proba).argmax(axis=1)
    return {rule: accuracy(y_true, pred)
            for rule, pred in zip(SONG_RULES, (mean_pred, log_pred, vote_pred))}


def expected_calibration_error(proba, y, bins=10):
    """ECE: sum over confidence bins of (bin share) * |accuracy - mean confidence|.

    proba : (n, n_classes), y : (n,). 0 is perfectly calibrated; a model that says 0.9
    and is right 70% of the time scores about 0.2.
    """
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(y)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    ece = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(ece)
