import numpy as np
import pytest
from conftest import small_network

from numpy_sae.data.gtzan import ClipSet, Preprocessing
from numpy_sae.nn.model import LossTerms
from numpy_sae.nn.optim import Adam, make_optimizer
from numpy_sae.train import (
    RandomCropSource,
    Trainer,
    TrainingDiverged,
    TrainingInterrupted,
    WindowSource,
)


def data(rng, n=64, d=10, c=3):
    y = rng.integers(0, c, n)
    x = rng.standard_normal((n, d)).astype(np.float32) + y[:, None].astype(np.float32)
    return x, y


def small(seed=0):
    return small_network(gamma=0.5, seed=seed)


def trainer_for(model, x, y, seed=1, **kw):
    return Trainer(model, Adam(lr=1e-2), WindowSource(x, y), validation=(x, y), batch_size=16,
                   rng=np.random.default_rng(seed), log=None, **kw)


def test_training_lowers_the_loss_and_records_history(rng):
    x, y = data(rng)
    model = small()
    trainer = trainer_for(model, x, y)
    history = trainer.fit(30)
    assert history["epoch"] == list(range(1, 31))
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    assert history["train_accuracy"][-1] > 0.6
    assert set(history) >= {"reconstruction", "cross_entropy", "val_accuracy", "seconds"}


def test_resume_is_bit_identical(rng):
    x, y = data(rng)
    straight = small()
    trainer_for(straight, x, y).fit(6)

    first = small()
    t1 = trainer_for(first, x, y)
    t1.fit(3)
    state = t1.state_dict()
    resumed = small(seed=99)  # different initial weights: the state must overwrite them
    t2 = trainer_for(resumed, x, y, seed=12345)
    t2.load_state_dict(state)
    t2.fit(6)
    for k, v in straight.parameters().items():
        np.testing.assert_array_equal(resumed.parameters()[k], v)
    assert t2.history["epoch"] == list(range(1, 7))


def test_divergence_stops_with_the_last_good_weights(rng):
    x, y = data(rng)
    model = small()
    trainer = trainer_for(model, x, y)
    trainer.fit(2)
    good = {k: v.copy() for k, v in model.parameters().items()}
    calls = {"n": 0}
    original = model.loss_and_gradients

    def poisoned(xb, yb):
        calls["n"] += 1
        terms, grads, logits = original(xb, yb)
        if calls["n"] == 3:
            terms = LossTerms(terms.reconstruction, float("nan"), float("nan"))
        return terms, grads, logits
    model.loss_and_gradients = poisoned
    with pytest.raises(TrainingDiverged, match="loss became nan at epoch 3, batch 3"):
        trainer.fit(5)
    assert trainer.epoch == 2
    for k, v in good.items():
        np.testing.assert_array_equal(model.parameters()[k], v)


def test_keyboard_interrupt_rolls_back_to_epoch_boundary(rng):
    x, y = data(rng)
    model = small()
    trainer = trainer_for(model, x, y)
    trainer.fit(1)
    after_one = {k: v.copy() for k, v in model.parameters().items()}
    original = trainer.optimizer.step
    steps = {"n": 0}

    def step(params, grads):
        steps["n"] += 1
        if steps["n"] == 2:
            raise KeyboardInterrupt
        original(params, grads)
    trainer.optimizer.step = step
    with pytest.raises(TrainingInterrupted):
        trainer.fit(3)
    assert trainer.epoch == 1
    for k, v in after_one.items():
        np.testing.assert_array_equal(model.parameters()[k], v)


def test_early_stopping_restores_best_weights(rng):
    x, y = data(rng)
    xv, yv = data(rng, n=32)
    yv = (yv + 1) % 3  # a validation set the model can only get worse on
    model = small()
    trainer = Trainer(model, Adam(lr=1e-2), WindowSource(x, y), validation=(xv, yv),
                      batch_size=16, rng=np.random.default_rng(0), patience=3, log=None)
    trainer.fit(100)
    assert trainer.stopped_early and trainer.epoch < 100
    assert trainer.epoch == trainer.best_epoch + 3
    best_loss = min(trainer.history["val_loss"])
    assert model.loss(xv, yv).total == pytest.approx(best_loss, rel=1e-5)


def test_trainer_rejects_bad_settings(rng):
    x, y = data(rng)
    with pytest.raises(ValueError, match="batch_size"):
        Trainer(small(), Adam(), WindowSource(x, y), batch_size=0)
    with pytest.raises(ValueError, match="early stopping needs validation"):
        Trainer(small(), Adam(), WindowSource(x, y), patience=2)
    with pytest.raises(ValueError, match="unknown optimizer"):
        make_optimizer("rmsprop")


def clipset_of(lengths, window=5):
    signals = [np.full(n, 100.0 * i, dtype=np.float32) + np.arange(n, dtype=np.float32)
               for i, n in enumerate(lengths)]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    return ClipSet(np.concatenate(signals), offsets, np.arange(len(lengths)) % 2,
                   [f"g/{i}.wav" for i in range(len(lengths))], ["a", "b"],
                   Preprocessing(factor=1, window=window, max_windows=None))


def test_random_crops_are_seeded_and_stay_inside_their_clip():
    clips = clipset_of([12, 7, 30])
    source = RandomCropSource(clips, [0, 2], per_clip=50)
    x1, y1 = source.epoch(np.random.default_rng(4))
    x2, _ = source.epoch(np.random.default_rng(4))
    x3, _ = source.epoch(np.random.default_rng(5))
    np.testing.assert_array_equal(x1, x2)
    assert not np.array_equal(x1, x3)
    assert x1.shape == (100, 5) and y1.tolist() == [0] * 50 + [0] * 50
    # Clip i holds 100 * i + position: a crop is consecutive values of one clip only.
    owner = x1[:, 0] // 100
    assert owner[:50].tolist() == [0] * 50 and owner[50:].tolist() == [2] * 50
    np.testing.assert_array_equal(np.diff(x1, axis=1), 1.0)
    starts = x1[:, 0] - 100 * owner
    assert starts[:50].max() <= 12 - 5 and starts[50:].max() <= 30 - 5
    assert len(np.unique(starts[50:])) > 10  # offsets vary, not a fixed grid


def test_unlabeled_clips_join_every_epoch_with_label_minus_one(rng):
    from numpy_sae.commands.experiment import RunSettings, training_source
    labeled = ClipSet(signals=rng.standard_normal(3000).astype(np.float32),
                      offsets=np.array([0, 1000, 2000, 3000]), labels=np.array([0, 1, 0]),
                      paths=["a", "b", "c"], genre_names=["x", "y"],
                      preprocessing=Preprocessing(window=100))
    unlabeled = ClipSet(signals=rng.standard_normal(1500).astype(np.float32),
                        offsets=np.array([0, 700, 1500]), labels=np.array([-1, -1]),
                        paths=["u1", "u2"], genre_names=[], preprocessing=Preprocessing(window=100))
    train_clips = np.array([0, 2])
    x_grid, y_grid, _ = labeled.windows(train_clips)
    crops = training_source(RunSettings(crops=5), labeled, train_clips, x_grid, y_grid,
                            lambda w: w, unlabeled)
    x, y = crops.epoch(np.random.default_rng(0))
    assert x.shape == (20, 100) and (y == -1).sum() == 10 and set(y[y >= 0]) == {0}
    grid = training_source(RunSettings(crops=0), labeled, train_clips, x_grid, y_grid,
                           lambda w: w, unlabeled)
    x, y = grid.epoch(None)
    assert len(x) == len(x_grid) + 7 + 8 and (y == -1).sum() == 15
    # Training on such a source: the accuracy counts labeled windows only.
    model = small_network(input_dim=100, n_classes=2)
    model.fit_scaling(x)
    trainer = Trainer(model, Adam(1e-3), grid, batch_size=8, rng=np.random.default_rng(0),
                      log=None)
    history = trainer.fit(1)
    assert 0 <= history["train_accuracy"][0] <= 1
