"""Figures for a run, as PNG files (matplotlib's object API: no screen, no pyplot).

Training curves, the confusion matrix, a PCA triptych (raw windows, codes,
logits) and reconstructions of a few windows. PCA is NumPy's SVD
(:class:`numpy_sae.encodings.PCA`), as transparent as the rest of the code.
"""

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from .encodings import PCA


def subplots(*grid, figsize, **options):
    """A figure and its axes made without pyplot: no backend is chosen or changed globally,
    so importing this module leaves a notebook's inline plots (and a student's plt.show())
    working, and figures written to files are never left open."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid, **options)


def pca_2d(x):
    """Project rows of x (N, D) onto their two leading principal components.

    Returns (N, 2) scores, and the fraction of variance each component explains (2,).
    """
    pca = PCA(2).fit(x)
    return pca.transform(x), pca.explained_variance_ratio_


def plot_history(history, path, unit="window"):
    """Loss terms and accuracies per epoch, train vs validation; ``unit`` names what the
    accuracy counts ("window" or "segment")."""
    epochs = history["epoch"]
    fig, axes = subplots(1, 3, figsize=(15, 4))
    panels = (("reconstruction", "Reconstruction ||x - g(f(x))||²", "squared error per row"),
              ("cross_entropy", "Cross-entropy", "mean cross-entropy (nats)"),
              ("accuracy", f"Accuracy per {unit}", f"share of {unit}s right"))
    for ax, (key, title, ylabel) in zip(axes, panels):
        train_key = "train_accuracy" if key == "accuracy" else key
        ax.plot(epochs, history[train_key], label="train")
        ax.plot(epochs, history[f"val_{key}"], label="validation")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return fig


def plot_confusion(cm, class_names, path, title="Confusion matrix"):
    """Confusion matrix: counts in every cell, colours by each true genre's share (recall),
    with a colorbar."""
    cm = np.asarray(cm)
    fig, ax = subplots(figsize=(1.2 * len(class_names) + 3, 1.2 * len(class_names) + 1.5))
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, label="share of the true genre's rows")
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center",
                    color="white" if share[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return fig


def plot_pca(views, y, class_names, path, max_points=3000, rng=None):
    """Side-by-side 2-D PCA scatter plots coloured by genre.

    views : dict title -> (N, D) array, e.g. raw windows, codes, logits
    y : (N,) int labels
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    keep = np.arange(len(y)) if len(y) <= max_points else rng.choice(len(y), max_points,
                                                                     replace=False)
    fig, axes = subplots(1, len(views), figsize=(5 * len(views), 4.5))
    axes = np.atleast_1d(axes)
    colors = matplotlib.colormaps.get_cmap("tab10")
    for ax, (title, data) in zip(axes, views.items()):
        scores, explained = pca_2d(np.asarray(data)[keep])
        for c, name in enumerate(class_names):
            mask = y[keep] == c
            ax.scatter(scores[mask, 0], scores[mask, 1], s=5, alpha=0.5, color=colors(c % 10),
                       label=name)
        ax.set_title(f"{title}\n(PC1 {explained[0]:.0%}, PC2 {explained[1]:.0%} of variance)")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("first principal component")
        ax.set_ylabel("second principal component")
        ax.legend(markerscale=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return fig


def plot_reconstructions(originals, reconstructions, titles, path,
                         xlabel="sample", ylabel="amplitude"):
    """Original vs reconstructed rows, one panel each. Arrays (k, D); the axis labels say
    what a row is (a waveform's samples, or a log spectrum's frequency bins)."""
    k = len(originals)
    fig, axes = subplots(k, 1, figsize=(10, 2.0 * k), squeeze=False)
    for ax, x, x_hat, title in zip(axes[:, 0], originals, reconstructions, titles):
        ax.plot(x, lw=0.8, label="original")
        ax.plot(x_hat, lw=0.8, label="reconstruction")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.legend(fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel(xlabel)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return fig


def plot_sweep(rows, chance, path):
    """Code size against reconstruction R^2 (autoencoder and PCA) and accuracy, mean +- std.

    rows : list of dicts with "code_dim" and "<name>_mean" / "<name>_std" for
        r2_autoencoder, r2_pca, window and song (as cross-validation returns them)
    """
    dims = [r["code_dim"] for r in rows]
    fig, axes = subplots(1, 2, figsize=(11, 4))
    panels = ((axes[0], (("r2_autoencoder", "autoencoder"), ("r2_pca", "PCA, same size")),
               "Reconstruction R² on held-out songs"),
              (axes[1], (("window", "window accuracy"), ("song", "song accuracy")),
               "Genre accuracy on held-out songs"))
    for ax, series, title in panels:
        for key, label in series:
            ax.errorbar(dims, [r[f"{key}_mean"] for r in rows], [r[f"{key}_std"] for r in rows],
                        marker="o", capsize=3, label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks(dims, [str(d) for d in dims])
        ax.set_xlabel("code size")
        ax.set_title(title)
    axes[1].axhline(chance, color="grey", ls="--", lw=1, label="chance")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return fig


def plot_layer_curves(diagnostics, key, path, title, log_scale=False):
    """One curve per layer of ``diagnostics.records[layer][key]`` against the epoch."""
    epochs = diagnostics.records["epochs"]
    fig, ax = subplots(figsize=(7, 4.5))
    for name in diagnostics.layers(key):
        values = np.array(diagnostics.records[name][key], dtype=float)
        ax.plot(epochs, values, marker="o", ms=3, label=name)
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return fig


def plot_variants(variants, path):
    """Side by side, per variant (name -> TrainingDiagnostics): gradient norm of each weight
    matrix at the first and last recorded epoch, and the flat share of each hidden layer."""
    fig, axes = subplots(1, 2, figsize=(13, 4.5))
    for i, (label, diag) in enumerate(variants.items()):
        color = matplotlib.colormaps.get_cmap("tab10")(i)
        weights = diag.layers("gradient_norm")
        for epoch_index, style in ((0, "--"), (-1, "-")):
            norms = [diag.records[w]["gradient_norm"][epoch_index] for w in weights]
            axes[0].plot(range(len(weights)), norms, style, marker="o", ms=3, color=color,
                         label=f"{label}, epoch {diag.records['epochs'][epoch_index]}")
        kind = "saturation" if diag.layers("saturation") else "inactive"
        hidden = diag.layers(kind)
        axes[1].plot(range(len(hidden)), [diag.records[h][kind][-1] for h in hidden],
                     marker="o", color=color, label=f"{label} ({kind})")
    axes[0].set_xticks(range(len(weights)), weights, rotation=60, ha="right", fontsize=7)
    axes[0].set_yscale("log")
    axes[0].set_title("Gradient norm per weight matrix (input side on the left)")
    axes[1].set_xticks(range(len(hidden)), hidden, rotation=60, ha="right", fontsize=7)
    axes[1].set_title("Share of saturated units (tanh, sigmoid) or of inactive ReLUs, "
                      "last epoch", fontsize=9)
    for ax in axes:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return fig


def plot_timeline(window_proba, genre_names, seconds_per_window, title, path):
    """Genre probabilities along a song, window by window, as stacked areas.

    window_proba : (n_windows, n_classes); seconds_per_window : float
    """
    window_proba = np.asarray(window_proba, dtype=float)
    # Each window is drawn across its whole span (a step), so a file of one window is a
    # full-width bar rather than a zero-width point.
    edges = np.arange(len(window_proba) + 1) * seconds_per_window
    t = np.repeat(edges, 2)[1:-1]
    fig, ax = subplots(figsize=(10, 3.8))
    colors = [matplotlib.colormaps.get_cmap("tab10")(i % 10) for i in range(len(genre_names))]
    ax.stackplot(t, np.repeat(window_proba, 2, axis=0).T, labels=genre_names, colors=colors,
                 alpha=0.85)
    ax.set_xlim(edges[0], edges[-1])
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return fig


def filter_responses(W, n_fft=None):
    """Magnitude response in dB of each filter pair, |DFT(W_cos - i W_sin)|: W (2K, N) ->
    (K, n_fft // 2 + 1), each row scaled to its own peak (0 dB)."""
    K, N = W.shape[0] // 2, W.shape[1]
    n_fft = n_fft or 2 * N
    pair = W[:K].astype(np.float64) - 1j * W[K:].astype(np.float64)
    response = np.abs(np.fft.fft(pair, n=n_fft, axis=1))[:, :n_fft // 2 + 1]
    response /= np.maximum(response.max(axis=1, keepdims=True), 1e-12)
    return 20 * np.log10(np.maximum(response, 1e-6))


def plot_filterbank(W_initial, W_trained, sample_rate, path):
    """The filters' frequency responses before and after training, one row per band, and
    each band's peak frequency before against after."""
    fig, axes = subplots(1, 3, figsize=(16, 4.5))
    nyquist = sample_rate / 2
    peaks = []
    for ax, W, title in ((axes[0], W_initial, "filters at the start"),
                         (axes[1], W_trained, "filters after training")):
        response = filter_responses(W)
        peaks.append(response.argmax(axis=1) / (response.shape[1] - 1) * nyquist)
        image = ax.imshow(response, aspect="auto", origin="lower", vmin=-40, vmax=0,
                          extent=(0, nyquist, 0, len(response)), cmap="magma")
        ax.set(title=title, xlabel="frequency (Hz)", ylabel="band")
    fig.colorbar(image, ax=axes[1], label="dB (each band to its peak)")
    axes[2].plot(peaks[0], peaks[1], ".", markersize=4)
    axes[2].plot([0, nyquist], [0, nyquist], color="grey", linewidth=0.8)
    axes[2].set(title="peak frequency of each band", xlabel="at the start (Hz)",
                ylabel="after training (Hz)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return fig
