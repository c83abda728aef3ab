"""End to end, the model learns genres from audio it has never heard (song-level folds)."""

import dataclasses

import numpy as np

from numpy_sae.commands.crossval import cross_validate
from numpy_sae.commands.experiment import RunSettings
from numpy_sae.data.gtzan import Preprocessing, build_clipset
from numpy_sae.data.synth import generate_dataset


def test_held_out_songs_are_classified_and_shuffled_labels_are_not(tmp_path):
    root = generate_dataset(tmp_path, genres=("classical", "metal"), clips_per_genre=8,
                            duration=6.0, seed=0)
    clips = build_clipset(root, "all", Preprocessing(), use_cache=False, log=lambda s: None)
    config = RunSettings(epochs=20, batch_size=64, crops=20)
    result = cross_validate(clips, config, folds=4, log=lambda s: None)
    assert result["window_mean"] > 0.7 and result["song_mean"] > 0.7  # chance is 0.5
    # Control: labels that carry no genre (each genre's songs split evenly between the two
    # labels at random) must not be learnable for unseen songs.
    rng = np.random.default_rng(1)
    noise = np.empty_like(clips.labels)
    for genre in (0, 1):
        songs = np.flatnonzero(clips.labels == genre)
        noise[songs] = rng.permutation(np.arange(len(songs)) % 2)
    control = cross_validate(dataclasses.replace(clips, labels=noise), config, folds=4,
                             log=lambda s: None)
    assert control["window_mean"] < 0.65
