"""The feature baseline's descriptors against signals with known answers, and its classifiers."""

import numpy as np
import pytest

from numpy_sae.data.descriptors import (
    DESCRIPTORS,
    FEATURE_NAMES,
    N_FEATURES,
    build_featureset,
    frame_descriptors,
    hz_to_mel,
    mel_band_edges,
    mel_filterbank,
    mel_to_hz,
    segment_features,
)
from numpy_sae.data.gtzan import Preprocessing
from numpy_sae.nn.gradcheck import check_model
from numpy_sae.nn.model import LogisticRegression

SR = 22050
COLUMN = {name: i for i, name in enumerate(DESCRIPTORS)}


def descriptor(signal, name):
    return frame_descriptors(signal, SR)[:, COLUMN[name]]


def test_a_pure_tone_has_its_frequency_as_centroid_and_its_pitch_class_as_chroma():
    t = np.arange(2 * SR) / SR
    tone = np.sin(2 * np.pi * 440.0 * t)  # A4
    assert descriptor(tone, "centroid").mean() == pytest.approx(440.0, abs=2.0)
    assert descriptor(tone, "rolloff").mean() == pytest.approx(440.0, abs=11.0)  # one bin
    assert descriptor(tone, "chroma_A").mean() > 0.99
    assert descriptor(tone, "rms").mean() == pytest.approx(np.sqrt(0.5), rel=1e-3)
    middle_c = np.sin(2 * np.pi * 261.63 * t)  # C4: the window's main lobe (10.8 Hz bins)
    chroma = frame_descriptors(middle_c, SR)[:, COLUMN["chroma_C"]:COLUMN["chroma_C"] + 12]
    assert chroma.mean(axis=0).argmax() == 0 and chroma[:, 0].mean() > 0.9  # leaks a little to B


def test_white_noise_is_flat_and_a_tone_is_not(rng):
    # For white noise every bin's power is exponential, whose geometric over arithmetic
    # mean is exp(-Euler's gamma) = 0.561.
    assert descriptor(rng.standard_normal(2 * SR), "flatness").mean() == \
        pytest.approx(np.exp(-np.euler_gamma), abs=0.01)
    tone = np.sin(2 * np.pi * 1000 * np.arange(2 * SR) / SR)
    assert descriptor(tone, "flatness").mean() < 1e-6


def test_a_click_train_crosses_zero_twice_per_period():
    clicks = np.zeros(2 * SR)
    clicks[::100], clicks[50::100] = 1.0, -1.0  # +1, zeros, -1, zeros: 2 sign changes / 100
    assert descriptor(clicks, "zero_crossing_rate").mean() == pytest.approx(0.02, abs=1e-3)


def test_silence_gives_finite_descriptors_and_short_clips_one_segment():
    assert np.isfinite(frame_descriptors(np.zeros(SR), SR)).all()
    assert segment_features(np.zeros(100), SR).shape == (1, N_FEATURES)
    thirty = segment_features(np.random.default_rng(0).standard_normal(30 * SR) * 0.1, SR)
    assert thirty.shape == (10, N_FEATURES) and thirty.dtype == np.float32
    assert len(FEATURE_NAMES) == N_FEATURES == 2 * len(DESCRIPTORS)


def test_mel_filterbank_band_edges():
    assert hz_to_mel(700.0) == pytest.approx(2595 * np.log10(2))
    np.testing.assert_allclose(mel_to_hz(hz_to_mel([0.0, 440.0, 8000.0])), [0, 440, 8000])
    edges = mel_band_edges(40, SR)
    assert edges[0] == 0 and edges[-1] == pytest.approx(SR / 2) and len(edges) == 42
    np.testing.assert_allclose(np.diff(hz_to_mel(edges)), hz_to_mel(SR / 2) / 41)
    bank = mel_filterbank(40, 2048, SR)
    freqs = np.fft.rfftfreq(2048, 1 / SR)
    assert bank.shape == (40, 1025) and bank.max() <= 1.0
    for i in (0, 10, 39):
        inside = freqs[bank[i] > 0]
        assert inside.min() > edges[i] and inside.max() < edges[i + 2]  # zero at both edges
        assert freqs[bank[i].argmax()] == pytest.approx(edges[i + 1], abs=SR / 2048)


def test_logistic_regression_gradients(rng):
    model = LogisticRegression(input_dim=6, n_classes=3, dtype=np.float64, seed=1)
    model.fit_scaling(rng.standard_normal((30, 6)) * 2 + 1)
    x, y = rng.standard_normal((7, 6)), rng.integers(0, 3, 7)
    report = check_model(model, x, y)
    assert set(report) == {"classifier.0.W", "classifier.0.b"}
    assert max(r["max_rel_error"] for r in report.values()) < 1e-6


def test_featureset_of_a_tree_with_a_broken_file(tmp_path):
    from numpy_sae.data.synth import generate_dataset
    root = generate_dataset(tmp_path, genres=("pop", "metal"), clips_per_genre=3, duration=4.0)
    (root / "pop" / "broken.wav").write_bytes(b"not audio")
    with pytest.warns(UserWarning, match="broken.wav"):
        features = build_featureset(root, ["pop", "metal"], Preprocessing(),
                                    cache_dir=tmp_path / "cache", log=lambda s: None)
    assert len(features) == 6 and features.skipped[0][0] == "pop/broken.wav"
    x, y, song = features.windows([0, 4])
    assert x.shape[1] == N_FEATURES and set(song) == {0, 4} and len(x) == 2
    lines = []
    again = build_featureset(root, ["pop", "metal"], Preprocessing(),
                             cache_dir=tmp_path / "cache", log=lines.append)
    assert "from cache" in lines[0]
    np.testing.assert_array_equal(again.x, features.x)
