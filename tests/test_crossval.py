import numpy as np

from numpy_sae.commands.cli import main
from numpy_sae.commands.crossval import cross_validate, format_cv
from numpy_sae.commands.experiment import RunSettings
from numpy_sae.data.gtzan import Preprocessing, build_clipset
from numpy_sae.data.synth import generate_dataset


def test_cross_validation_adds_up(tmp_path):
    root = generate_dataset(tmp_path, genres=("classical", "metal", "pop"), clips_per_genre=4,
                            duration=2.0, seed=2)
    clips = build_clipset(root, "all", Preprocessing(), use_cache=False, log=lambda s: None)
    lines = []
    for config in (RunSettings(epochs=2, batch_size=8, crops=3),
                   RunSettings(epochs=3, batch_size=8, crops=0, patience=1, input="spectrum")):
        result = cross_validate(clips, config, folds=4, log=lines.append)
        assert sum(result["n_songs"]) == 12 and result["song_cm"].sum() == 12
        assert sum(result["n_windows"]) == 24 and result["window_cm"].sum() == 24
        assert result["song_cm"].sum(axis=1).tolist() == [4, 4, 4]  # every song held out once
        assert len(result["window"]) == 4
        assert np.isclose(result["window_mean"], np.mean(result["window"]))
        pooled = np.trace(result["window_cm"]) / 24
        assert np.isclose(pooled, np.average(result["window"], weights=result["n_windows"]))
    text = format_cv(result, clips.genre_names)
    assert "mean +- std over 4 folds" in text and "pooled song-level" in text
    assert len([line for line in lines if line.startswith("fold ")]) == 8


def test_cv_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NUMPY_SAE_CACHE", str(tmp_path / "cache"))
    root = generate_dataset(tmp_path / "d", genres=("jazz", "rock"), clips_per_genre=3,
                            duration=2.0, seed=4)
    assert main(["cv", "--model", "joint", "--data", str(root), "--genres", "all", "--folds", "3", "--epochs", "1",
                 "--batch-size", "8"]) == 0
    out = capsys.readouterr().out
    assert "3-fold song-level cross-validation on 6 clips" in out and "fold 3/3" in out
    assert main(["cv", "--model", "joint", "--data", str(root), "--genres", "all", "--folds", "4"]) == 1
    assert "4 folds need at least 4 songs per genre" in capsys.readouterr().err
