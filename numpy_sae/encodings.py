"""How much of the signal a code keeps: R^2 of reconstructions, and PCA as the yardstick.

An autoencoder's code is only worth something as an encoding if it keeps the
signal of windows it never saw. R^2 = 1 - ||z - z_hat||^2 / ||z - mean(z)||^2
says which share of the variance of standardized windows z a reconstruction
explains. PCA with as many components as the code, fitted by SVD on the same
training windows, is the best any *linear* code can do: the figure an
autoencoder should reach on unseen songs before its code is called an encoding.
"""

import numpy as np


def r2_score(z, z_hat):
    """Share of the variance of z that z_hat explains (variance-weighted over features).

    Parameters
    ----------
    z : ndarray, shape (N, D), the targets
    z_hat : ndarray, shape (N, D), their reconstructions

    Returns
    -------
    float: 1 - sum ||z - z_hat||^2 / sum ||z - mean(z)||^2; 1 is perfect, 0 is as good as
    predicting each feature's mean, negative is worse. NaN for fewer than two rows.
    """
    z = np.asarray(z, dtype=np.float64)
    z_hat = np.asarray(z_hat, dtype=np.float64)
    if z.shape != z_hat.shape or z.ndim != 2:
        raise ValueError(f"z and z_hat must have the same (N, D) shape, got {z.shape} and "
                         f"{z_hat.shape}")
    total = np.sum((z - z.mean(axis=0)) ** 2)
    if len(z) < 2 or total == 0:
        return float("nan")
    return float(1.0 - np.sum((z - z_hat) ** 2) / total)


class PCA:
    """Principal component analysis by SVD: the optimal linear code of a given size.

    Parameters
    ----------
    n_components : int, the code size k

    Attributes (after :meth:`fit`)
    ----------
    mean_ : (D,) ; components_ : (k, D), orthonormal rows ;
    explained_variance_ratio_ : (k,)
    """

    def __init__(self, n_components):
        if int(n_components) != n_components or n_components < 1:
            raise ValueError(f"n_components must be a positive integer, got {n_components!r}")
        self.n_components = int(n_components)

    def fit(self, x):
        """Fit on rows of x (N, D), N >= 2; returns self.

        Notes
        -----
        x - mean = U S V^T; the components are the first k rows of V^T, and
        component i explains S_i^2 / sum_j S_j^2 of the variance. With N > 2D the
        same V and S^2 come from the eigendecomposition of (x - mean)^T (x - mean).
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(f"PCA needs an (N, D) array with N >= 2, got shape {x.shape}")
        k = min(self.n_components, *x.shape)
        self.mean_ = x.mean(axis=0)
        centered = x - self.mean_
        if len(x) > 2 * x.shape[1]:
            # Many more rows than features (frames of a segment model): the eigenvectors of
            # centered.T @ centered are the same V, and a (D, D) eigenproblem is far cheaper
            # than the SVD of an (N, D) matrix.
            variance, vectors = np.linalg.eigh(centered.T @ centered)
            order = np.argsort(variance)[::-1]
            variance, vt = np.clip(variance[order], 0.0, None), vectors[:, order].T
        else:
            _, s, vt = np.linalg.svd(centered, full_matrices=False)
            variance = s ** 2
        self.components_ = vt[:k]
        total = variance.sum()
        self.explained_variance_ratio_ = variance[:k] / total if total > 0 else np.zeros(k)
        return self

    def transform(self, x):
        """Codes (N, k) = (x - mean) V_k^T."""
        return (np.asarray(x, dtype=np.float64) - self.mean_) @ self.components_.T

    def inverse_transform(self, codes):
        """Reconstructions (N, D) = mean + codes V_k."""
        return self.mean_ + codes @ self.components_

    def reconstruct(self, x):
        """The projection of x (N, D) onto the components, in the units of x."""
        return self.inverse_transform(self.transform(x))


# Above this many rows (windows or frames) R^2 and variances are estimated from an evenly
# spaced sample: memory stays bounded however large the set.
MAX_ROWS = 20_000


def evenly_spaced(x, max_rows=MAX_ROWS):
    """x itself, or evenly spaced items of it holding at most ``max_rows`` rows.

    x : (N, D) windows, or (N, T, D) segments of T rows each (an array or lazy segments)
    """
    rows_per_item = x.shape[1] if len(x.shape) == 3 else 1
    keep = max(2, max_rows // rows_per_item)
    if len(x) <= keep:
        return x
    return x[np.unique(np.linspace(0, len(x) - 1, keep).astype(np.int64))]


def fit_pca_yardstick(network, x_train, max_rows=MAX_ROWS):
    """PCA with as many components as the network's code, fitted on its standardized
    training inputs (evenly spaced, at most ``max_rows`` rows): the yardstick of
    :func:`reconstruction_r2`, fitted once for every subset it scores. A code at least as
    wide as the input gets every component the input has (PCA then reconstructs it
    exactly, and the comparison says so)."""
    z = network.standardized(evenly_spaced(x_train, max_rows))
    return PCA(min(network.code_dim, z.shape[1])).fit(z)


def reconstruction_r2(network, x_train, x_eval, max_rows=MAX_ROWS, pca=None):
    """R^2 of the autoencoder and of PCA with as many components as its code, on x_eval.

    Both work on the network's standardized inputs, and PCA is fitted on the
    same training windows the network's scaling came from.

    Parameters
    ----------
    network : SoftmaxAutoencoderNetwork
    x_train : (N, input_dim), the training windows (the fixed grid of the training songs),
        or (N, T, input_dim) segments of frames for a segment model
    x_eval : (M, input_dim) or (M, T, input_dim), windows to score, e.g. unseen songs
    max_rows : larger sets are scored on evenly spaced windows (or segments) holding this
        many rows (windows or frames): an estimate, and memory stays bounded
    pca : the yardstick from :func:`fit_pca_yardstick`, or None to fit it here

    Returns
    -------
    {"autoencoder": float, "pca": float, "code_dim": int, "pca_components": int (the code's
    size, or the input's width when the code is wider)}
    """
    pca = pca or fit_pca_yardstick(network, x_train, max_rows)
    z_eval, z_hat = network.reconstruction_pair(evenly_spaced(x_eval, max_rows))
    return {"autoencoder": r2_score(z_eval, z_hat), "pca": r2_score(z_eval, pca.reconstruct(z_eval)),
            "code_dim": network.code_dim, "pca_components": pca.n_components}
