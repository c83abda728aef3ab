"""Training dynamics of a deep tanh network: saturation, vanishing and exploding gradients.

The lecture trains the study's network (500 -> 256 -> 192 -> 128 -> 64, a
mirrored decoder and a classifier) on a small synthetic dataset four times:
tanh with Glorot's initialization, sigmoid, ReLU with He's, and tanh with
naive N(0, 1) weights, with plain SGD (so a gradient's size is its update's),
recording per layer and per epoch the share of saturated (or, for ReLU,
inactive) units, the gradient norms and the update sizes (the
``TrainingDiagnostics`` callback of ``numpy_sae.diagnostics``). The same
figures for any trained run: ``numpy-sae diagnose RUN_DIR``. As a script
(``python examples/lecture_training_dynamics.py``) it writes the figures to
``./training_dynamics/``; as a notebook it also shows them inline.
"""

# %% [markdown]
# ## Setup: one BLAS thread, and a small synthetic dataset of two genres
#
# The naive-initialization run is chaotic: summing the same numbers in another order
# changes its figures, and both more BLAS threads and another CPU's kernels (AVX2 or
# AVX-512) sum in another order. The first lines pin NumPy's BLAS to one thread, so one
# machine gives the same numbers every run; on another CPU the naive row's digits may
# differ (its training accuracy was 0.583 on an AVX2 machine and 0.688 on an AVX-512 one),
# while what the lecture is about holds everywhere: the naive weights saturate nearly
# every tanh unit, and the sigmoid network's first layer barely moves.
# The lines work only before NumPy is imported: run this cell first, in a fresh kernel.

# %%
import os
import sys

if "numpy" in sys.modules and os.environ.get("OPENBLAS_NUM_THREADS") != "1":
    print("NumPy was imported before this cell: restart the kernel, or the figures may "
          "differ slightly from the lecture's (the BLAS thread count is already fixed)")
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402, F401  (in a notebook: figures show inline)
import numpy as np  # noqa: E402

from numpy_sae import plots  # noqa: E402
from numpy_sae.data.gtzan import Preprocessing, build_clipset  # noqa: E402
from numpy_sae.data.synth import generate_dataset  # noqa: E402
from numpy_sae.diagnostics import TrainingDiagnostics  # noqa: E402
from numpy_sae.nn.model import SoftmaxAutoencoderNetwork  # noqa: E402
from numpy_sae.nn.optim import SGD  # noqa: E402
from numpy_sae.train import RandomCropSource, Trainer  # noqa: E402

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

# %% [markdown]
# ## Four networks that differ only in their activation or initialization
#
# Plain SGD, so that a gradient's size is its update's size: Adam divides every gradient by
# its own running scale, and would hide exactly what this lecture is about. Glorot's
# initialization draws $W \sim \mathcal{N}(0, 2/(n_{in} + n_{out}))$, He's
# $\mathcal{N}(0, 2/n_{in})$; the naive one $\mathcal{N}(0, 1)$ makes every pre-activation
# hundreds of units wide, so tanh sits at $\pm 1$ where its derivative $1 - \tanh^2$ is 0.

# %%
LR = 0.05
variants = {"tanh, Glorot": {}, "sigmoid, Glorot": {"activation": "sigmoid"},
            "ReLU, He": {"activation": "relu"}, "tanh, naive N(0, 1)": {"init": "normal"}}
results, accuracy = {}, {}
for label, change in variants.items():
    network = SoftmaxAutoencoderNetwork(n_classes=2, gamma=0.03, seed=0, **change)
    network.fit_scaling(x_grid)
    diagnostics = TrainingDiagnostics(x_grid[probe], y_grid[probe])
    diagnostics.start(network)
    trainer = Trainer(network, SGD(LR), RandomCropSource(clips, np.arange(len(clips)), 50),
                      batch_size=128, rng=np.random.default_rng(0), log=None)
    with np.errstate(over="ignore"):
        trainer.fit(EPOCHS, on_epoch_end=diagnostics)
    results[label] = diagnostics
    accuracy[label] = trainer.history["train_accuracy"][-1]
print(f"{'variant':22} {'training accuracy':>17}")
for label in variants:
    print(f"{label:22} {accuracy[label]:17.3f}")

# %% [markdown]
# ## Gradient norms and update sizes of the first and last weight matrix
#
# With SGD the update of $W$ is $\mathrm{lr} \cdot \partial L/\partial W$: where the gradient
# vanishes toward the input (sigmoid: its derivative is at most 1/4 per layer, so eight
# layers shrink it by up to $4^8$), the first layer barely moves.

# %%
first, last = "encoder.0.W", "classifier.2.W"
print(f"{'variant':22} {'grad ' + first:>18} {'grad ' + last:>21} "
      f"{'update ' + first:>20} {'update ' + last:>23}")
for label, diagnostics in results.items():
    records = diagnostics.records
    print(f"{label:22} {records[first]['gradient_norm'][0]:18.1e} "
          f"{records[last]['gradient_norm'][0]:21.1e} "
          f"{np.nanmean(records[first]['update_ratio']):20.1e} "
          f"{np.nanmean(records[last]['update_ratio']):23.1e}")

# %% [markdown]
# ## Saturation: the share of units where $\tanh' = 1 - \mathrm{out}^2$ (or $\sigma'$) is about 0
#
# ReLU units do not saturate; the share of them at exactly 0 is listed as "inactive".

# %%
for label, diagnostics in results.items():
    kind = "saturation" if diagnostics.layers("saturation") else "inactive"
    names = diagnostics.layers(kind)
    print(f"{label:22} {kind:10} " + "  ".join(
        f"{name} {diagnostics.records[name][kind][-1]:.2f}" for name in names[:4]))

# %% [markdown]
# ## Figures for the lecture
#
# All four variants at a glance, then the Glorot tanh network layer by layer: its
# saturation, gradient norms and update sizes per epoch. Each figure is also written to
# `training_dynamics/`.

# %%
OUT.mkdir(exist_ok=True)
variants_figure = plots.plot_variants(results, OUT / "variants.png")
variants_figure

# %%
saturation_figure = plots.plot_layer_curves(
    results["tanh, Glorot"], "saturation", OUT / "saturation.png",
    "Share of saturated units (|tanh| > 0.97), per layer")
saturation_figure

# %%
gradient_figure = plots.plot_layer_curves(
    results["tanh, Glorot"], "gradient_norm", OUT / "gradient_norms.png",
    "Gradient norm per weight matrix", log_scale=True)
gradient_figure

# %%
update_figure = plots.plot_layer_curves(
    results["tanh, Glorot"], "update_ratio", OUT / "update_ratios.png",
    "Update size per epoch, ||W_new - W_old|| / ||W_old||", log_scale=True)
print(f"figures in {OUT}/")
update_figure
