import numpy as np
import pytest

from numpy_sae.metrics import (
    classification_report,
    confusion_matrix,
    evaluate_predictions,
    per_class_scores,
    song_level,
)


def test_confusion_and_scores_by_hand():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 0, 1, 1, 0])
    cm = confusion_matrix(y_true, y_pred, 3)
    assert cm.tolist() == [[2, 1, 0], [0, 2, 0], [1, 0, 0]]
    s = per_class_scores(cm)
    np.testing.assert_allclose(s["precision"], [2 / 3, 2 / 3, 0.0])
    np.testing.assert_allclose(s["recall"], [2 / 3, 1.0, 0.0])
    np.testing.assert_allclose(s["f1"], [2 / 3, 0.8, 0.0])
    assert s["support"].tolist() == [3, 2, 1]


def test_report_lists_every_genre_and_averages():
    cm = np.array([[5, 1], [2, 2]])
    text = classification_report(cm, ["classical", "metal"])
    assert "classical" in text and "metal" in text
    assert "accuracy" in text and "0.700" in text and "macro avg" in text and "weighted avg" in text


def test_song_level_averages_probabilities():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4], [0.1, 0.9]])
    song = np.array([7, 7, 7, 3, 3])
    y = np.array([1, 1, 1, 0, 0])
    songs, y_true, y_pred, p = song_level(proba, song, y)
    assert songs.tolist() == [3, 7] and y_true.tolist() == [0, 1]
    # Song 7: mean [0.467, 0.533] -> class 1 although one window says 0.
    assert y_pred.tolist() == [1, 1]
    np.testing.assert_allclose(p[1], [1.4 / 3, 1.6 / 3])


def test_evaluate_predictions_totals_add_up():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=30)
    song = np.repeat(np.arange(6), 5)
    y = np.repeat(np.arange(6) % 3, 5)
    r = evaluate_predictions(proba, y, song, ["a", "b", "c"])
    assert np.sum(r["window"]["confusion_matrix"]) == 30 and r["window"]["n"] == 30
    assert np.sum(r["song"]["confusion_matrix"]) == 6 and r["song"]["n"] == 6
    assert r["window"]["accuracy"] == pytest.approx(np.mean(proba.argmax(1) == y))
