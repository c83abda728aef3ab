"""The joint model against the study's baselines and the feature baseline, on one split.

1. the joint softmax autoencoder (the run settings' gamma);
2. the study's baseline: an autoencoder trained on reconstruction alone
   (gamma 1), then a 2-layer (128 tanh) softmax classifier on its frozen codes;
3. the same 2-layer classifier on raw windows, with no autoencoder at all;
4. given the descriptors of the same clips, the feature-engineering baseline:
   logistic regression and the 2-layer classifier on 3 s segments.
Each is scored at window (or segment) and song level on the test songs.
"""

from dataclasses import replace

import numpy as np

from ..data.descriptors import N_FEATURES, build_featureset
from ..metrics import evaluate_predictions
from ..nn.model import LogisticRegression, SoftmaxClassifier
from ..train import WindowSource
from .experiment import (
    load_dataset,
    make_splits,
    make_trainer,
    new_audio_model,
    training_source,
)
from .models import FEATURE_DEFAULTS, describe_settings


def compare(clipset, settings, log=print, features=None):
    """Train the models on the same split; return rows of test accuracies.

    features : the FeatureSet of the same clips, or None; it adds the feature-engineering
        baseline (descriptors of 3 s segments; its "windows" are those segments).

    Returns
    -------
    list of dicts: {"model", "window_accuracy", "song_accuracy", "n_songs", "n_windows"}
    """
    split_seed, init_seed, train_seed = np.random.SeedSequence(settings.seed).spawn(3)

    def fresh(seed):
        # A new generator from the same seed for every model: all start from the same
        # random state, a fair comparison.
        return np.random.default_rng(seed)

    joint = new_audio_model(settings, clipset, fresh(init_seed))
    splits = make_splits(clipset, settings, fresh(split_seed), joint)
    x_train, y_train, _ = splits.train
    x_val, y_val, _ = splits.validation
    test_subset = splits.test if len(splits.test[1]) else splits.validation
    x_test, y_test, song_test = test_subset
    n_classes = len(clipset.genre_names)

    def train(network, validation, transform=joint.features, x_grid=x_train):
        # Every model sees the same training windows: the fixed grid or fresh random crops.
        source = training_source(settings, clipset, splits.train_clips, x_grid, y_train,
                                 transform)
        make_trainer(settings, network, source, validation, fresh(train_seed)).fit(settings.epochs)

    rows = []

    def score(name, proba, y=y_test, song=song_test, unit="window"):
        r = evaluate_predictions(proba, y, song, clipset.genre_names)
        rows.append({"model": name, "window_accuracy": r["window"]["accuracy"],
                     "song_accuracy": r["song"]["accuracy"], "n_windows": r["window"]["n"],
                     "n_songs": r["song"]["n"], "unit": unit})
        log(f"  {name}: {unit} {r['window']['accuracy']:.3f}, song {r['song']['accuracy']:.3f}")

    what = "segment" if joint.segmented else "joint"
    log(f"training the {what} softmax autoencoder ...")
    joint.network.fit_scaling(x_train)
    train(joint.network, (x_val, y_val))
    score(f"{what} softmax autoencoder (gamma {settings.gamma:g})",
          joint.network.predict_proba(x_test), unit=joint.unit)
    if joint.segmented:
        # The window baselines below read single windows; a segment model is compared with
        # the feature baseline only, which reads segments of the same length.
        return _feature_rows(rows, score, clipset, splits, test_subset, settings, features,
                             fresh, init_seed, train_seed, log)

    log("training the autoencoder alone (gamma 1), then a classifier on its codes ...")
    auto = new_audio_model(settings, clipset, fresh(init_seed), gamma=1.0).network
    auto.fit_scaling(x_train)
    train(auto, None)
    head = SoftmaxClassifier(input_dim=settings.code_dim, n_classes=n_classes,
                             seed=fresh(init_seed))
    head.fit_scaling(auto.encode(x_train))
    train(head, (auto.encode(x_val), y_val),
          transform=lambda windows: auto.encode(joint.features(windows)),
          x_grid=auto.encode(x_train))
    score("autoencoder + separate 2-layer classifier (the study's baseline)",
          head.predict_proba(auto.encode(x_test)))

    log("training a 2-layer classifier on raw windows ...")
    raw = SoftmaxClassifier(input_dim=joint.network.input_dim, n_classes=n_classes,
                            seed=fresh(init_seed))
    raw.fit_scaling(x_train)
    train(raw, (x_val, y_val))
    score("2-layer classifier on raw windows", raw.predict_proba(x_test))

    return _feature_rows(rows, score, clipset, splits, test_subset, settings, features, fresh,
                         init_seed, train_seed, log)


def _feature_rows(rows, score, clipset, splits, test_subset, settings, features, fresh,
                  init_seed, train_seed, log):
    """Add the feature-engineering baseline, trained and scored on the same songs."""
    if features is None:
        return rows
    # The same songs on each side, as engineered descriptors of their 3 s segments.
    index = {path: i for i, path in enumerate(features.paths)}

    def same_songs(subset):
        return features.windows([index[clipset.paths[s]] for s in np.unique(subset[2])
                                 if clipset.paths[s] in index])
    f_train, f_val, f_test = map(same_songs, (splits.train, splits.validation, test_subset))
    feature_settings = replace(settings, crops=0, **FEATURE_DEFAULTS)
    n_classes = len(clipset.genre_names)
    for name, network in (
            ("descriptors + logistic regression",
             LogisticRegression(N_FEATURES, n_classes, seed=fresh(init_seed))),
            ("descriptors + 2-layer classifier",
             SoftmaxClassifier(N_FEATURES, n_classes, seed=fresh(init_seed)))):
        log(f"training {name} (the feature-engineering baseline) ...")
        network.fit_scaling(f_train[0])
        make_trainer(feature_settings, network, WindowSource(*f_train[:2]), f_val[:2],
                     fresh(train_seed)).fit(settings.epochs)
        score(name, network.predict_proba(f_test[0]), f_test[1], f_test[2], unit="segment")
    return rows


def format_table(rows, chance):
    """Markdown table of the comparison."""
    units = {r.get("unit", "window") for r in rows}
    lines = [f"| model | test {' / '.join(sorted(units))} accuracy | test song accuracy |",
             "|---|---|---|"]
    for r in rows:
        unit = r.get("unit", "window")
        lines.append(f"| {r['model']} | {r['window_accuracy']:.3f} ({r['n_windows']} {unit}s) | "
                     f"{r['song_accuracy']:.3f} ({r['n_songs']} songs) |")
    lines.append(f"| chance | {chance:.3f} | {chance:.3f} |")
    return "\n".join(lines)


def run_baselines(settings, log=print):
    """Find the data (or make the synthetic set), compare, print the table."""
    dataset = load_dataset(settings, log)
    features = build_featureset(dataset.root, dataset.clipset.genre_names,
                                settings.preprocessing(), cache_dir=settings.cache_dir,
                                use_cache=settings.use_cache, workers=settings.jobs, log=log)
    rows = compare(dataset.clipset, settings, log, features)
    log("")
    log(f"data: {dataset.describe()}; {len(dataset.clipset)} clips; seed {settings.seed}; "
        f"{describe_settings(settings)}")
    log(format_table(rows, 1.0 / len(dataset.clipset.genre_names)))
    return rows
