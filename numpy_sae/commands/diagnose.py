"""The ``diagnose`` command: pictures of a run's network learning, and of its alternatives.

It retrains the run's network from scratch on the run's own data and split for
a few epochs with a :class:`~numpy_sae.diagnostics.TrainingDiagnostics`
callback, and beside it the same network with sigmoid and ReLU units and with
a naive N(0, 1) initialization, then writes into RUN_DIR/diagnose/: the
saturation, gradient-norm and update-ratio curves per layer of the run's
network, a side-by-side figure of the variants, and every record as JSON.
"""

import json
from dataclasses import replace

import numpy as np

from ..audio_model import AudioModel
from ..diagnostics import TrainingDiagnostics
from ..nn.model import SoftmaxAutoencoderNetwork
from .experiment import (
    JobError,
    RunSettings,
    load_dataset,
    make_splits,
    make_trainer,
    training_source,
)
from .outputs import check_new_files, written_output
from .predict import model_path

# label -> what changes from the run's own network
VARIANTS = {"tanh, Glorot (the run's)": {}, "sigmoid, Glorot": {"activation": "sigmoid"},
            "ReLU, He": {"activation": "relu"}, "tanh, naive N(0, 1)": {"init": "normal"}}
FIGURES = ("saturation.png", "gradient_norms.png", "update_ratios.png", "variants.png")


def diagnose(dataset, settings, config, epochs, probe_size=512, log=print):
    """Train each variant for ``epochs`` with diagnostics; {label: TrainingDiagnostics}."""
    clipset = dataset.clipset
    split_seed, init_seed, train_seed = np.random.SeedSequence(settings.seed).spawn(3)
    results = {}
    for label, change in VARIANTS.items():
        network = SoftmaxAutoencoderNetwork(**{**config, **change, "dtype": "float32"},
                                            seed=np.random.default_rng(init_seed))
        model = AudioModel(network, clipset.preprocessing, settings.input, clipset.genre_names)
        splits = make_splits(clipset, settings, np.random.default_rng(split_seed), model)
        x_train, y_train, _ = splits.train
        network.fit_scaling(x_train)
        probe = splits.validation if len(splits.validation[1]) else splits.train
        diagnostics = TrainingDiagnostics(probe[0][:probe_size], probe[1][:probe_size])
        diagnostics.start(network)
        source = training_source(settings, clipset, splits.train_clips, x_train, y_train,
                                 model.features)
        trainer = make_trainer(settings, network, source, None, np.random.default_rng(train_seed))
        with np.errstate(over="ignore"):
            trainer.fit(epochs, on_epoch_end=diagnostics)
        results[label] = diagnostics
        log(f"{label}: final training accuracy {trainer.history['train_accuracy'][-1]:.3f}")
    return results


def run_diagnose(run, epochs=20, log=print, force=False):
    """The ``numpy-sae diagnose RUN_DIR`` command; returns the folder it wrote.

    Its files in RUN_DIR/diagnose/ are written as every output is (complete or not at
    all); existing ones are refused before any training, unless ``force``, which
    replaces a link itself, never the file it points to."""
    from .. import plots  # matplotlib is imported only when figures are drawn

    path = model_path(run)
    model, meta, _ = AudioModel.load(path)
    if not isinstance(model.network, SoftmaxAutoencoderNetwork) or model.segmented:
        raise JobError(f"{path} holds no window-level softmax autoencoder to diagnose "
                       "(diagnose retrains --model joint runs)")
    try:
        # The variants are retrained on the labeled songs only: the run's unlabeled audio
        # (if any) is left out, and said to be.
        stored = RunSettings(**meta["job"]).check()
        settings = replace(stored, epochs=epochs, unlabeled=None)
    except (KeyError, TypeError, ValueError) as exc:
        raise JobError(f"{path}: has no run settings to retrain with ({exc}); models written "
                       "by numpy-sae train have them") from None
    out = path.parent / "diagnose"
    names = [*FIGURES, "diagnostics.json"]
    check_new_files([out / name for name in names], [path], force)
    dataset = load_dataset(settings, log)
    if stored.unlabeled:
        log(f"the run's unlabeled audio ({stored.unlabeled}) is not used by diagnose")
    log(f"retraining the run's network and {len(VARIANTS) - 1} variants for {epochs} epochs "
        "each, recording every layer ...")
    results = diagnose(dataset, settings, model.network.config(), epochs, log=log)
    own = next(iter(results.values()))
    drawings = {
        "saturation.png": lambda to: plots.plot_layer_curves(
            own, "saturation", to, "Share of saturated units (|tanh| > 0.97), per layer"),
        "gradient_norms.png": lambda to: plots.plot_layer_curves(
            own, "gradient_norm", to, "Gradient norm per weight matrix", log_scale=True),
        "update_ratios.png": lambda to: plots.plot_layer_curves(
            own, "update_ratio", to, "Update size per epoch, ||W_new - W_old|| / ||W_old||",
            log_scale=True),
        "variants.png": lambda to: plots.plot_variants(results, to),
        "diagnostics.json": lambda to: to.write_text(json.dumps(
            {label: d.records for label, d in results.items()}, indent=1)),
    }
    for name in names:
        with written_output(out / name, force) as tmp:
            drawings[name](tmp)
    log(f"wrote {out}/: {', '.join(FIGURES)}, diagnostics.json")
    return out
