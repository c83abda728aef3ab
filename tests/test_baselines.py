import numpy as np

from numpy_sae.commands.baselines import compare, format_table
from numpy_sae.commands.experiment import RunSettings
from numpy_sae.data.descriptors import build_featureset
from numpy_sae.data.gtzan import Preprocessing, build_clipset
from numpy_sae.data.synth import generate_dataset


def test_three_models_on_one_split(tmp_path):
    root = generate_dataset(tmp_path, genres=("classical", "metal"), clips_per_genre=7,
                            duration=2.0, seed=3)
    clips = build_clipset(root, ["classical", "metal"], Preprocessing(), use_cache=False,
                          log=lambda s: None)
    for crops in (0, 4):
        config = RunSettings(epochs=2, batch_size=8, crops=crops)
        lines = []
        rows = compare(clips, config, log=lines.append)
        assert [r["model"].split(" ")[0] for r in rows] == ["joint", "autoencoder", "2-layer"]
        with_features = compare(clips, config, lambda s: None, build_featureset(
            root, ["classical", "metal"], Preprocessing(), use_cache=False, log=lambda s: None))
        assert [r["model"] for r in with_features[3:]] == [
            "descriptors + logistic regression", "descriptors + 2-layer classifier"]
        assert all(r["n_songs"] == 2 for r in with_features)
        for r in rows:
            assert 0.0 <= r["window_accuracy"] <= 1.0 and r["n_songs"] == 2 and r["n_windows"] == 4
        table = format_table(rows, 0.5)
        assert table.count("\n") == 5 and "| chance | 0.500 | 0.500 |" in table
    again = compare(clips, config, log=lines.append)
    assert [r["window_accuracy"] for r in again] == [r["window_accuracy"] for r in rows]
    assert np.isfinite([r["song_accuracy"] for r in rows]).all()


def test_the_segment_model_against_the_feature_baseline(tmp_path):
    root = generate_dataset(tmp_path, genres=("classical", "metal"), clips_per_genre=7,
                            duration=2.0, seed=3)
    config = RunSettings(model="segment", epochs=2, batch_size=8, crops=2, factor=1, window=256,
                         segment_seconds=0.5, input="spectrum")
    clips = build_clipset(root, ["classical", "metal"], config.preprocessing(), use_cache=False,
                          log=lambda s: None)
    features = build_featureset(root, ["classical", "metal"], Preprocessing(), use_cache=False,
                                log=lambda s: None)
    rows = compare(clips, config, lambda s: None, features)
    assert [r["model"].split(" (")[0] for r in rows] == [
        "segment softmax autoencoder", "descriptors + logistic regression",
        "descriptors + 2-layer classifier"]
    assert rows[0]["n_windows"] == 2 * 4 and all(r["n_songs"] == 2 for r in rows)
