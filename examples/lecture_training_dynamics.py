"""Training dynamics of a deep tanh network: saturation, vanishing and exploding gradients.

    python examples/lecture_training_dynamics.py      # writes figures to ./training_dynamics/

A lecture in ``# %%`` cells (VS Code, Spyder, Jupyter with jupytext run them
one by one). It trains the study's network (500 -> 256 -> 192 -> 128 -> 64,
a mirrored decoder and a classifier) on a small synthetic dataset four times:
tanh with Glorot's initialization, sigmoid, ReLU with He's, and tanh with
naive N(0, 1) weights, recording per layer and per epoch the share of
saturated units, the gradient norms and the update sizes
(:class:`numpy_sae.diagnostics.TrainingDiagnostics`). The same figures for
any trained run: ``numpy-sae diagnose RUN_DIR``.
"""

# %% Setup: a small synthetic dataset of two genres, cut into windows
import tempfile
from pathlib import Path

import numpy as np

from numpy_sae import plots
from numpy_sae.data.gtzan import Preprocessing, build_clipset
from numpy_sae.data.synth import generate_dataset
from numpy_sae.diagnostics import TrainingDiagnostics
from numpy_sae.nn.model import SoftmaxAutoencoderNetwork
from numpy_sae.nn.optim import Adam
from numpy_sae.train import RandomCropSource, Trainer

OUT = Path("training_dynamics")
EPOCHS = 15
with tempfile.TemporaryDirectory() as tmp:
    # 20 short clips need no worker processes; with workers=1 the cells also run as they
    # stand where workers start with spawn (Windows, macOS), which re-runs an unguarded script.
    root = generate_dataset(tmp, genres=("classical", "metal"), clips_per_genre=10,
                            duration=10.0, seed=0, workers=1)
    clips = build_clipset(root, "all", Preprocessing(), use_cache=False, workers=1,
                          log=lambda line: None)
x_grid, y_grid, _ = clips.windows()
probe = np.random.default_rng(1).choice(len(y_grid), size=min(256, len(y_grid)), replace=False)
print(f"{len(clips)} clips, {len(y_grid)} grid windows of {x_grid.shape[1]} samples")

# %% Train four networks that differ only in their activation or initialization
variants = {"tanh, Glorot": {}, "sigmoid, Glorot": {"activation": "sigmoid"},
            "ReLU, He": {"activation": "relu"}, "tanh, naive N(0, 1)": {"init": "normal"}}
results = {}
for label, change in variants.items():
    network = SoftmaxAutoencoderNetwork(n_classes=2, gamma=0.03, seed=0, **change)
    network.fit_scaling(x_grid)
    diagnostics = TrainingDiagnostics(x_grid[probe], y_grid[probe])
    diagnostics.start(network)
    trainer = Trainer(network, Adam(1e-3), RandomCropSource(clips, np.arange(len(clips)), 50),
                      batch_size=128, rng=np.random.default_rng(0), log=None)
    with np.errstate(over="ignore"):
        trainer.fit(EPOCHS, on_epoch_end=diagnostics)
    results[label] = diagnostics
    print(f"{label:22} training accuracy {trainer.history['train_accuracy'][-1]:.3f}")

# %% Saturation: the share of tanh units stuck near +-1, where tanh' = 1 - out**2 is ~0
for label, diagnostics in results.items():
    shares = [diagnostics.records[name]["saturation"][-1]
              for name in diagnostics.layers("saturation")]
    print(f"{label:22} " + " ".join(f"{s:.2f}" for s in shares))

# %% Gradient norms per layer: sigmoid's vanish toward the input, naive N(0, 1)'s explode
for label, diagnostics in results.items():
    norms = [diagnostics.records[w]["gradient_norm"][0] for w in diagnostics.layers("gradient_norm")]
    print(f"{label:22} epoch 0: " + " ".join(f"{n:.1e}" for n in norms[:4]) + "  (encoder)")

# %% Figures for the lecture
OUT.mkdir(exist_ok=True)
plots.plot_variants(results, OUT / "variants.png")
plots.plot_layer_curves(results["tanh, Glorot"], "saturation", OUT / "saturation.png",
                        "Share of saturated units (|tanh| > 0.97), per layer")
plots.plot_layer_curves(results["tanh, Glorot"], "gradient_norm", OUT / "gradient_norms.png",
                        "Gradient norm per weight matrix", log_scale=True)
plots.plot_layer_curves(results["tanh, Glorot"], "update_ratio", OUT / "update_ratios.png",
                        "Update size per epoch, ||W_new - W_old|| / ||W_old||", log_scale=True)
print(f"figures in {OUT}/")
