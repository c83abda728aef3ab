"""The segment model: frames encoded and reconstructed, segments classified from pooled codes."""

import numpy as np
import pytest

from numpy_sae.data.gtzan import ClipSet, Preprocessing
from numpy_sae.data.segments import Segments, frames_per_segment, segment_grid
from numpy_sae.nn import functional as F
from numpy_sae.nn.gradcheck import check_model
from numpy_sae.nn.model import SegmentAutoencoderNetwork
from numpy_sae.train import RandomCropSource

BOUND = 1e-6


def tiny_segment_model(gamma, classifier_hidden=0, seed=3, pooling="meanstd"):
    return SegmentAutoencoderNetwork(input_dim=6, n_classes=3, code_dim=4, encoder_hidden=(5,),
                                     classifier_hidden=classifier_hidden, gamma=gamma,
                                     dtype=np.float64, seed=seed, pooling=pooling)


@pytest.mark.parametrize("classifier_hidden, pooling", [(0, "meanstd"), (5, "meanstd"),
                                                        (0, "meanlogstd")])
@pytest.mark.parametrize("gamma", [0.0, 0.9, 1.0])
def test_whole_segment_model_gradients(gamma, classifier_hidden, pooling):
    # Every parameter against the joint loss, through the pooling, with one unlabeled segment.
    rng = np.random.default_rng(0)
    model = tiny_segment_model(gamma, classifier_hidden, pooling=pooling)
    model.fit_scaling(rng.standard_normal((8, 7, 6)) * 2 + 1)
    x, y = rng.standard_normal((4, 7, 6)), np.array([0, 2, -1, 1])
    report = check_model(model, x, y)
    assert set(report) == set(model.parameters())
    assert not {k: v["max_rel_error"] for k, v in report.items() if v["max_rel_error"] >= BOUND}


def test_the_two_gradients_add_at_the_code_through_the_pooling(rng):
    model = tiny_segment_model(0.5)
    x, y = rng.standard_normal((3, 7, 6)), np.array([0, 1, 2])
    _, grads, _ = model.loss_and_gradients(x, y)
    # Rebuild dL/dcode by hand from the two heads and push it through the encoder.
    z = model.standardized(x)
    code = model.encoder.forward(z)
    _, dx_hat = F.sum_squared_error(model.decoder.forward(code), z)
    _, dlogits = F.softmax_cross_entropy(model.classifier.forward(
        model.pool.forward(code.reshape(3, 7, 4))), y)
    from_decoder = model.decoder.backward(dx_hat * 0.5)
    from_classifier = model.pool.backward(model.classifier.backward(dlogits * 0.5))
    model.encoder.backward(from_decoder + from_classifier.reshape(21, 4))
    np.testing.assert_allclose(model.encoder.gradients()["0.W"], grads["encoder.0.W"])


def test_segment_model_reads_arrays_and_lazy_segments_alike(rng):
    signals = rng.standard_normal(400).astype(np.float32)
    segments = Segments(signals, [0, 50, 170], window=12, hop=6, n_frames=5,
                        transform=lambda frames: frames[..., :6] * 2)
    model = SegmentAutoencoderNetwork(input_dim=6, n_classes=3, code_dim=4, encoder_hidden=(5,),
                                      seed=0)
    dense = segments[np.arange(3)]
    np.testing.assert_array_equal(model.predict_proba(segments), model.predict_proba(dense))
    assert model.encode(segments).shape == (3, 5, 4)
    assert model.pooled_codes(segments).shape == (3, 8)
    assert model.reconstruct(dense).shape == (3, 5, 6)
    assert model.standardized(segments).shape == (15, 6)
    with pytest.raises(ValueError, match=r"shape \(N, T, 6\)"):
        model.predict(rng.standard_normal((3, 6)))
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.full((1, 5, 6), np.nan))


def test_segments_gather_the_frames_they_promise(rng):
    signals = np.arange(100, dtype=np.float32)
    segments = Segments(signals, [3, 40], window=8, hop=4, n_frames=3, transform=lambda f: f)
    assert segments.shape == (2, 3, 8) and len(segments) == 2
    np.testing.assert_array_equal(segments[1][2], np.arange(48, 56))  # start 40 + 2 hops
    np.testing.assert_array_equal(segments[np.array([1, 0])][1, 0], np.arange(3, 11))
    with pytest.raises(ValueError, match="outside"):
        Segments(signals, [95], window=8, hop=4, n_frames=3, transform=lambda f: f)


def test_frames_per_segment():
    assert frames_per_segment(3.0, 22050, 2048, 1024) == 63
    assert frames_per_segment(0.001, 22050, 2048, 1024) == 1  # never zero frames


def clip_set(lengths, segment_frames=3, window=8, hop=4):
    signals = np.concatenate([np.full(n, i, dtype=np.float32) for i, n in enumerate(lengths)])
    return ClipSet(signals=signals, offsets=np.concatenate([[0], np.cumsum(lengths)]),
                   labels=np.arange(len(lengths)) % 2, paths=[f"c{i}" for i in range(len(lengths))],
                   genre_names=["a", "b"],
                   preprocessing=Preprocessing(factor=1, window=window, hop=hop,
                                               segment_frames=segment_frames))


def test_the_segment_grid_covers_each_clip_without_overlap():
    clips = clip_set([40, 16, 10])  # a segment is 2 * 4 + 8 = 16 samples
    segments, y, song = segment_grid(clips, np.array([0, 1, 2]), lambda f: f)
    np.testing.assert_array_equal(song, [0, 0, 1])  # clip 2 is shorter than one segment
    np.testing.assert_array_equal(segments.starts, [0, 16, 40])
    np.testing.assert_array_equal(y, [0, 0, 1])


def test_random_segment_crops_stay_inside_their_clip(rng):
    clips = clip_set([40, 16, 30])
    source = RandomCropSource(clips, np.array([0, 1, 2]), per_clip=50)
    x, y = source.epoch(rng)
    frames = x[np.arange(len(x))]
    assert frames.shape == (150, 3, 8)
    # Each clip holds a constant signal equal to its index: a crop that crossed into the
    # next clip would mix two values.
    assert all(np.unique(segment).size == 1 for segment in frames)
    np.testing.assert_array_equal(frames[:, 0, 0], np.repeat([0, 1, 2], 50))


@pytest.mark.parametrize("lazy", [False, True])
def test_validation_over_several_chunks_keeps_each_label_with_its_segment(lazy, rng):
    # 1,300 segments of 7 frames = 9,100 frames: more than one inference chunk (8,192
    # frames, so 1,170 segments a chunk). The labels must be cut by segments, not frames.
    model = SegmentAutoencoderNetwork(input_dim=6, n_classes=3, code_dim=4, encoder_hidden=(5,),
                                      gamma=0.5, seed=0)
    signals = rng.standard_normal(1300 * 7 * 6 + 6).astype(np.float32)
    starts = np.arange(1300) * 42
    segments = Segments(signals, starts, window=6, hop=6, n_frames=7, transform=lambda f: f)
    x = segments if lazy else segments[np.arange(1300)]
    y = rng.integers(0, 3, 1300)
    y[::5] = -1  # unlabeled segments count in the reconstruction only
    terms, logits = model.loss_and_logits(x, y)
    assert logits.shape == (1300, 3)
    # The same loss segment by segment: every chunk boundary must give the same sums.
    dense = segments[np.arange(1300)]
    by_one = [model.loss_and_logits(dense[i:i + 1], y[i:i + 1]) for i in range(0, 1300, 97)]
    np.testing.assert_allclose(logits[::97], np.concatenate([l for _, l in by_one]), rtol=1e-5,
                               atol=1e-6)
    labeled = y >= 0
    probs = F.softmax_forward(logits.astype(np.float64))[0]
    expected_ce = -np.mean(np.log(probs[labeled, y[labeled]]))
    np.testing.assert_allclose(terms.cross_entropy, expected_ce, rtol=1e-5)


def test_early_stopping_on_a_validation_set_of_several_chunks(rng):
    from numpy_sae.nn.optim import Adam
    from numpy_sae.train import Trainer, WindowSource
    model = SegmentAutoencoderNetwork(input_dim=6, n_classes=3, code_dim=4, encoder_hidden=(5,),
                                      seed=0)
    x_train, y_train = rng.standard_normal((40, 7, 6)).astype(np.float32), rng.integers(0, 3, 40)
    x_val, y_val = rng.standard_normal((1300, 7, 6)).astype(np.float32), rng.integers(0, 3, 1300)
    trainer = Trainer(model, Adam(lr=1e-2), WindowSource(x_train, y_train),
                      validation=(x_val, y_val), batch_size=8, patience=1, log=None)
    trainer.fit(3)
    assert len(trainer.history["val_loss"]) == trainer.epoch >= 2
    assert np.isfinite(trainer.history["val_loss"]).all()


@pytest.mark.parametrize("init, learning", [("mel", "free"), ("fourier", "parametric"),
                                            ("random", "free"), ("mel", "frozen")])
@pytest.mark.parametrize("gamma", [0.0, 0.9, 1.0])
def test_whole_segment_model_with_a_filterbank_front_end(gamma, init, learning):
    # Every parameter, the front end's included, against the joint loss plus the L2-SP
    # penalty, with the reconstruction target held constant (its gradient stopped).
    rng = np.random.default_rng(1)
    model = SegmentAutoencoderNetwork(
        input_dim=12, n_classes=3, code_dim=4, encoder_hidden=(5,), gamma=gamma,
        dtype=np.float64, seed=2, front_end={"filters": 4, "init": init, "learning": learning,
                                             "anchor": 0.2, "sample_rate": 8000})
    model.fit_scaling(rng.standard_normal((6, 7, 12)))
    for name, p in model.parameters().items():
        if name.startswith("front."):
            p += 0.02 * rng.standard_normal(p.shape)  # away from the anchor
    x, y = rng.standard_normal((4, 7, 12)), np.array([0, 2, -1, 1])
    # Stop-gradient means: differentiate with the target fixed at its present value.
    target = model.standardized(x)
    model._reconstruction_target = lambda u: target
    report = check_model(model, x, y)
    assert set(report) == set(model.parameters())
    assert any(k.startswith("front.") for k in report) == (learning != "frozen")
    assert not {k: v["max_rel_error"] for k, v in report.items() if v["max_rel_error"] >= BOUND}


def test_front_end_model_reads_band_energies_and_reconstructs_them(rng):
    model = SegmentAutoencoderNetwork(input_dim=16, n_classes=3, code_dim=4, encoder_hidden=(5,),
                                      seed=0, front_end={"filters": 9, "init": "fourier"})
    x = rng.standard_normal((5, 3, 16)).astype(np.float32)
    model.fit_scaling(x)
    u = model.standardized(x)
    assert u.shape == (15, 9)
    np.testing.assert_allclose(u.mean(axis=0), 0, atol=1e-5)  # per-band standardization
    assert model.reconstruct(x).shape == (5, 3, 9)
    target, rebuilt = model.reconstruction_pair(x)
    np.testing.assert_allclose(target, u)
    assert rebuilt.shape == (15, 9)
    assert model.encode(x).shape == (5, 3, 4) and model.predict_proba(x).shape == (5, 3)
    with pytest.raises(ValueError, match="no centre frequencies"):
        SegmentAutoencoderNetwork(input_dim=16, front_end={"filters": 4, "init": "random",
                                                           "learning": "parametric"})


def test_gain_augmentation_scales_each_segment_before_its_features(rng):
    signals = rng.standard_normal(400).astype(np.float32)
    plain = Segments(signals, [0, 50], window=12, hop=6, n_frames=5, transform=lambda f: f)
    louder = Segments(signals, [0, 50], window=12, hop=6, n_frames=5, transform=lambda f: f,
                      gains=[2.0, 0.5])
    np.testing.assert_allclose(louder[np.arange(2)], plain[np.arange(2)] * np.array(
        [2.0, 0.5])[:, None, None])
    np.testing.assert_allclose(louder[1], plain[1] * 0.5)


def test_song_rules_and_calibration_error():
    from numpy_sae.metrics import expected_calibration_error, song_accuracies
    # One song of class 0: two segments lean to 1, one is sure of 0.
    proba = np.array([[0.4, 0.6], [0.45, 0.55], [0.99, 0.01]])
    rules = song_accuracies(proba, np.zeros(3, int), np.zeros(3, int))
    assert rules == {"mean": 1.0, "logmean": 1.0, "vote": 0.0}
    # Said 0.9 and right every time: 0.1 under-confident; perfectly calibrated: 0.
    sure = np.array([[0.9, 0.1]] * 10)
    assert expected_calibration_error(sure, np.zeros(10, int)) == pytest.approx(0.1)
    half = np.array([[0.5, 0.5]] * 4)
    assert expected_calibration_error(half, np.array([0, 1, 0, 1])) == pytest.approx(0.0)


def test_whole_segment_model_with_a_gabor_front_end():
    rng = np.random.default_rng(2)
    model = SegmentAutoencoderNetwork(
        input_dim=12, n_classes=3, code_dim=4, encoder_hidden=(5,), gamma=0.5,
        dtype=np.float64, seed=2, front_end={"filters": 4, "init": "gabor", "anchor": 0.3,
                                             "sample_rate": 8000})
    model.fit_scaling(rng.standard_normal((6, 7, 12)))
    model.parameters()["front.W"] += 0.02 * rng.standard_normal((8, 12))
    x, y = rng.standard_normal((4, 7, 12)), np.array([0, 2, -1, 1])
    target = model.standardized(x)
    model._reconstruction_target = lambda u: target
    report = check_model(model, x, y)
    assert max(v["max_rel_error"] for v in report.values()) < BOUND
