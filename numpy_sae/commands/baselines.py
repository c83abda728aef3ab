"""The joint model against the study's baselines, on one split and one seed.

1. the joint softmax autoencoder (gamma 0.9);
2. the study's baseline: an autoencoder trained on reconstruction alone
   (gamma 1), then a 2-layer (128 tanh) softmax classifier on its frozen codes;
3. the same 2-layer classifier on raw windows, with no autoencoder at all.
Each is scored at window and song level on the test songs.
"""

import numpy as np

from ..data.features import feature_dim
from .job import load_clips, make_splits, make_trainer, new_joint_model, training_source
from ..metrics import evaluate_predictions
from ..nn.model import SoftmaxClassifier


def _train(model, source, validation, config, rng):
    make_trainer(config, model, source, validation, rng).fit(config.epochs)
    return model


def compare(clipset, config, log=print):
    """Train the three models on the same split; return rows of test accuracies.

    Returns
    -------
    list of dicts: {"model", "window_accuracy", "song_accuracy", "n_songs", "n_windows"}
    """
    seeds = np.random.SeedSequence(config.seed).spawn(3)
    split_rng, init_rng, train_rng = (np.random.default_rng(s) for s in seeds)
    splits = make_splits(clipset, config, split_rng)
    x_train, y_train, _ = splits.train
    x_val, y_val, _ = splits.validation
    x_test, y_test, song_test = splits.test if len(splits.test[1]) else splits.validation
    n_classes = len(clipset.genre_names)
    dim = feature_dim(config.input, config.window)

    def source(encode=None):
        # Every model sees the same training windows: the fixed grid or fresh random crops.
        return training_source(config, clipset, splits.train_clips, x_train, y_train, encode)

    state = init_rng.bit_generator.state
    train_state = train_rng.bit_generator.state

    def fresh(rng, saved):
        # Every model starts from the same random state: a fair comparison.
        rng.bit_generator.state = saved
        return rng

    rows = []

    def score(name, proba):
        r = evaluate_predictions(proba, y_test, song_test, clipset.genre_names)
        rows.append({"model": name, "window_accuracy": r["window"]["accuracy"],
                     "song_accuracy": r["song"]["accuracy"], "n_windows": r["window"]["n"],
                     "n_songs": r["song"]["n"]})
        log(f"  {name}: window {r['window']['accuracy']:.3f}, song {r['song']['accuracy']:.3f}")

    log("training the joint softmax autoencoder ...")
    joint = new_joint_model(config, n_classes, x_train, fresh(init_rng, state))
    _train(joint, source(), (x_val, y_val), config, fresh(train_rng, train_state))
    score(f"joint softmax autoencoder (gamma {config.gamma:g})", joint.predict_proba(x_test))

    log("training the autoencoder alone (gamma 1), then a classifier on its codes ...")
    auto = new_joint_model(config, n_classes, x_train, fresh(init_rng, state), gamma=1.0)
    _train(auto, source(), None, config, fresh(train_rng, train_state))
    head = SoftmaxClassifier(input_dim=config.code_dim, n_classes=n_classes,
                             seed=fresh(init_rng, state))
    head.fit_scaling(auto.encode(x_train))
    _train(head, source(encode=auto.encode), (auto.encode(x_val), y_val), config,
           fresh(train_rng, train_state))
    score("autoencoder + separate 2-layer classifier (the study's baseline)",
          head.predict_proba(auto.encode(x_test)))

    log("training a 2-layer classifier on raw windows ...")
    raw = SoftmaxClassifier(input_dim=dim, n_classes=n_classes, seed=fresh(init_rng, state))
    raw.fit_scaling(x_train)
    _train(raw, source(), (x_val, y_val), config, fresh(train_rng, train_state))
    score("2-layer classifier on raw windows", raw.predict_proba(x_test))
    return rows


def format_table(rows, chance):
    """Markdown table of the comparison."""
    lines = ["| model | test window accuracy | test song accuracy |", "|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['window_accuracy']:.3f} ({r['n_windows']} windows) | "
                     f"{r['song_accuracy']:.3f} ({r['n_songs']} songs) |")
    lines.append(f"| chance | {chance:.3f} | {chance:.3f} |")
    return "\n".join(lines)


def run_baselines(config, log=print):
    """Find the data (or make the synthetic set), compare, print the table."""
    clipset, root, synthetic = load_clips(config, log)
    rows = compare(clipset, config, log)
    log("")
    log(f"data: {'SYNTHETIC audio' if synthetic else root}; {len(clipset)} clips; "
        f"{config.epochs} epochs, lr {config.lr:g}, crops {config.crops or 'off'}, "
        f"input {config.input}, seed {config.seed}")
    log(format_table(rows, 1.0 / len(clipset.genre_names)))
    return rows
