"""R^2, the PCA baseline, the reconstruction figures of a run, and the collapse warning."""

import numpy as np
import pytest
from conftest import small_network

from numpy_sae.commands.report import collapse_warning
from numpy_sae.encodings import PCA, r2_score, reconstruction_r2
from numpy_sae.nn.optim import Adam
from numpy_sae.train import Trainer, WindowSource


def test_r2_by_hand():
    z = np.array([[1.0, 0.0], [3.0, 2.0], [5.0, 4.0]])   # column means 3 and 2
    # total sum of squares: (4 + 0 + 4) + (4 + 0 + 4) = 16
    z_hat = np.array([[1.0, 1.0], [3.0, 2.0], [4.0, 4.0]])  # squared errors 1 + 1 = 2
    assert r2_score(z, z_hat) == pytest.approx(1 - 2 / 16)
    assert r2_score(z, z) == 1.0
    assert r2_score(z, np.tile(z.mean(axis=0), (3, 1))) == pytest.approx(0.0)
    assert np.isnan(r2_score(z[:1], z[:1]))
    with pytest.raises(ValueError, match="same"):
        r2_score(z, z[:, :1])


def test_pca_by_hand():
    # Points on the line y = 2x (plus the mean (1, 1)) and one off it: the first
    # component is the line's direction, and a 1-component projection drops the rest.
    x = np.array([[0.0, -1.0], [2.0, 3.0], [1.0, 1.0], [1.0, 1.0]])
    pca = PCA(1).fit(x)
    np.testing.assert_allclose(pca.mean_, [1.0, 1.0])
    direction = np.array([1.0, 2.0]) / np.sqrt(5)
    np.testing.assert_allclose(np.abs(pca.components_[0]), direction, atol=1e-12)
    np.testing.assert_allclose(pca.reconstruct(x), x, atol=1e-12)  # all on the line
    assert pca.explained_variance_ratio_[0] == pytest.approx(1.0)
    off = np.array([[1.0 + 2.0, 1.0 - 1.0]])  # orthogonal to the line through the mean
    np.testing.assert_allclose(pca.reconstruct(off), [[1.0, 1.0]], atol=1e-12)


def test_pca_is_the_best_linear_code(rng):
    # PCA with k components explains the top-k eigenvalues' share of the variance.
    x = rng.standard_normal((400, 6)) * np.array([5.0, 3.0, 2.0, 1.0, 0.5, 0.1])
    pca = PCA(2).fit(x)
    eigenvalues = np.sort(np.linalg.eigvalsh(np.cov(x.T)))[::-1]
    expected = eigenvalues[:2].sum() / eigenvalues.sum()
    assert r2_score(x, pca.reconstruct(x)) == pytest.approx(expected, rel=1e-9)
    with pytest.raises(ValueError, match="N >= 2"):
        PCA(2).fit(x[:1])


def test_reconstruction_r2_of_a_network(rng):
    network = small_network(dtype=np.float64)
    x_train = rng.standard_normal((50, 10)) * 2 + 1
    network.fit_scaling(x_train)
    x_eval = rng.standard_normal((30, 10)) * 2 + 1
    scores = reconstruction_r2(network, x_train, x_eval)
    z, z_hat = network.standardized(x_eval), network.standardized(network.reconstruct(x_eval))
    assert scores["autoencoder"] == pytest.approx(r2_score(z, z_hat))
    pca = PCA(4).fit((x_train - x_train.mean(0)) / x_train.std(0))
    z_eval = (x_eval - x_train.mean(0)) / x_train.std(0)
    assert scores["pca"] == pytest.approx(r2_score(z_eval, pca.reconstruct(z_eval)))
    assert scores["code_dim"] == 4


def test_history_holds_validation_r2(rng):
    network = small_network(gamma=1.0)
    x = rng.standard_normal((64, 10)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    network.fit_scaling(x)
    trainer = Trainer(network, Adam(1e-2), WindowSource(x, y), validation=(x[:20], y[:20]),
                      batch_size=16, rng=np.random.default_rng(0), log=None)
    history = trainer.fit(30)
    z = network.standardized(x[:20])
    expected = r2_score(z, network.standardized(network.reconstruct(x[:20])))
    assert history["val_r2"][-1] == pytest.approx(expected, rel=1e-4)
    assert history["val_r2"][-1] > history["val_r2"][0]


def test_collapse_warning():
    assert "within 0.05 of chance (0.250)" in collapse_warning(0.29, 4, reconstructs=True)
    assert "--gamma" in collapse_warning(0.25, 4, reconstructs=True)
    # A classifier without a reconstruction term has no gamma to lower.
    assert "--gamma" not in collapse_warning(0.25, 4, reconstructs=False)
    assert collapse_warning(0.31, 4, reconstructs=True) is None
    assert collapse_warning(0.9, 2, reconstructs=False) is None


def test_pca_of_many_rows_matches_the_svd(rng):
    # N > 2D takes the (D, D) eigendecomposition path: the same subspace and variances.
    x = rng.standard_normal((300, 8)) @ rng.standard_normal((8, 8))
    pca = PCA(3).fit(x)
    _, s, vt = np.linalg.svd(x - x.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(np.abs(pca.components_ @ vt[:3].T), np.eye(3), atol=1e-10)
    np.testing.assert_allclose(pca.explained_variance_ratio_, (s ** 2 / np.sum(s ** 2))[:3])
