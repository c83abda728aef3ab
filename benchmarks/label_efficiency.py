"""What the autoencoder is for: accuracy against the number of labeled songs per genre.

    python benchmarks/label_efficiency.py --data ../shared/gtzan_mini_6 --genres all \\
        --labeled 1,2,4,8 --seeds 0,1,2 --gamma 0.1 --out label_efficiency

In each song-level fold (the folds of ``numpy-sae cv`` for the seed), only L training
songs per genre keep their labels; the other training songs are unlabeled. Four models
learn from the same L labeled songs:

- the segment model at gamma 0 (a plain classifier: the unlabeled songs cannot help it);
- the segment model at ``--gamma``, whose reconstruction term also trains on every
  segment of the unlabeled training songs (they enter as label -1, as ``--unlabeled``
  audio does);
- PCA codes + logistic regression: PCA with as many components as the code, fitted on
  frames of all training songs (labels not needed; standardized with the statistics of
  all training songs, as every model here is), its codes pooled per segment
  (mean and standard deviation, as the segment model pools), then logistic regression
  on the labeled songs;
- descriptors + logistic regression on the labeled songs.

Writes ``OUT.csv`` (one row per seed, fold, L and model), ``OUT.md`` (mean +- std over
seeds and folds) and ``OUT.png`` (accuracy against labeled songs per genre). Prints
figures; asserts nothing.
"""

import argparse
import csv
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from numpy_sae.commands.cli import _run_settings, build_parser
from numpy_sae.commands.experiment import (load_dataset, make_trainer, new_audio_model,
                                           training_source)
from numpy_sae.data.splits import song_folds
from numpy_sae.encodings import PCA, evenly_spaced
from numpy_sae.metrics import evaluate_predictions
from numpy_sae.nn.model import UNLABELED, LogisticRegression
from numpy_sae.train import WindowSource
from script_support import check_new, run_main

MODELS = ("segment, gamma 0", "segment, gamma G", "PCA codes + LR", "descriptors + LR")


def labeled_subset(train, labels, per_genre, rng):
    """L training songs per genre (all of a genre's songs if it has fewer)."""
    return np.sort(np.concatenate([rng.permutation(train[labels[train] == g])[:per_genre]
                                   for g in np.unique(labels[train])]))


def scores(proba, y, song, names):
    result = evaluate_predictions(proba, y, song, names)
    return result["window"]["accuracy"], result["song"]["accuracy"]


def segment_model(settings, clipset, train, labeled, test, seed):
    """The segment model trained on the labeled songs (and, when gamma > 0, on the
    unlabeled training songs' segments through its reconstruction)."""
    init_rng, train_rng = (np.random.default_rng(s)
                           for s in np.random.SeedSequence(seed).spawn(2))
    unlabeled = np.setdiff1d(train, labeled)
    marked = replace(clipset, labels=clipset.labels.copy())
    marked.labels[unlabeled] = UNLABELED
    clips = train if settings.gamma > 0 else labeled  # at gamma 0 unlabeled segments add nothing
    model = new_audio_model(settings, clipset, init_rng)
    # The input scaling needs no labels: every model takes it from all training songs.
    model.network.fit_scaling(model.windows(clipset, train)[0])
    x_train, y_train, _ = model.windows(marked, clips)
    trainer = make_trainer(settings, model.network,
                           training_source(settings, marked, clips, x_train, y_train,
                                           model.features),
                           None, train_rng)
    trainer.fit(settings.epochs)
    x_test, y_test, song_test = model.windows(clipset, test)
    return model, scores(model.network.predict_proba(x_test), y_test, song_test,
                         clipset.genre_names)


def logistic_regression(x, y, x_test, settings, seed, n_classes):
    """The package's logistic regression with the feature baseline's training settings."""
    init_rng, train_rng = (np.random.default_rng(s)
                           for s in np.random.SeedSequence(seed).spawn(2))
    network = LogisticRegression(x.shape[1], n_classes, seed=init_rng)
    network.fit_scaling(x)
    make_trainer(settings, network, WindowSource(x, y), None, train_rng).fit(settings.epochs)
    return network.predict_proba(x_test)


def pca_codes(model, clipset, train, labeled, test, code_dim, lr_settings, seed):
    """PCA of the standardized frames of all training songs, pooled per segment, then LR."""
    network = model.network
    x_all, _, _ = model.windows(clipset, train)
    pca = PCA(code_dim).fit(network.standardized(evenly_spaced(x_all)))

    def pooled(clips):
        x, y, song = model.windows(clipset, clips)
        frames = network.standardized(x)
        codes = pca.transform(frames).reshape(len(x), -1, code_dim)
        return np.concatenate([codes.mean(axis=1), codes.std(axis=1)], axis=1), y, song

    x_lab, y_lab, _ = pooled(labeled)
    x_test, y_test, song_test = pooled(test)
    proba = logistic_regression(x_lab.astype(np.float32), y_lab, x_test.astype(np.float32),
                                lr_settings, seed, len(clipset.genre_names))
    return scores(proba, y_test, song_test, clipset.genre_names)


def descriptors(featureset, labeled, test, lr_settings, seed):
    x, y, _ = featureset.windows(labeled)
    x_test, y_test, song_test = featureset.windows(test)
    proba = logistic_regression(x, y, x_test, lr_settings, seed, len(featureset.genre_names))
    return scores(proba, y_test, song_test, featureset.genre_names)


def summarize(rows, gamma):
    """{(model, L): (segment accuracies, song accuracies)} over seeds and folds."""
    table = {}
    for row in rows:
        key = (row["model"].replace("G", f"{gamma:g}"), row["labeled"])
        seg, song = table.setdefault(key, ([], []))
        seg.append(row["segment"])
        song.append(row["song"])
    return table


def write_outputs(rows, out, gamma, labeled_counts):
    from numpy_sae import plots  # matplotlib only here
    table = summarize(rows, gamma)
    names = [m.replace("G", f"{gamma:g}") for m in MODELS]
    lines = ["| model | " + " | ".join(f"L = {L} (segment / song)" for L in labeled_counts)
             + " |", "|---|" + "---|" * len(labeled_counts)]
    for name in names:
        cells = []
        for L in labeled_counts:
            seg, song = table.get((name, L), ([], []))
            cells.append(f"{np.mean(seg):.3f} / {np.mean(song):.3f} +- {np.std(song):.3f}"
                         if seg else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    Path(f"{out}.md").write_text("\n".join(lines) + "\n")
    fig, axes = plots.subplots(1, 2, figsize=(11, 4))
    for ax, level, title in ((axes[0], 0, "segments"), (axes[1], 1, "songs")):
        for name in names:
            means = [np.mean(table[(name, L)][level]) if (name, L) in table else np.nan
                     for L in labeled_counts]
            stds = [np.std(table[(name, L)][level]) if (name, L) in table else np.nan
                    for L in labeled_counts]
            ax.errorbar(labeled_counts, means, yerr=stds, marker="o", capsize=3, label=name)
        ax.set(xscale="log", xlabel="labeled songs per genre", ylabel="accuracy", title=title)
        ax.set_xticks(labeled_counts, [str(L) for L in labeled_counts])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(f"{out}.png", dpi=100)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labeled", default="1,2,4,8", help="labeled songs per genre (1,2,4,8)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--out", default="label_efficiency", help="OUT.csv, OUT.md, OUT.png")
    parser.add_argument("--redraw", action="store_true",
                        help="write OUT.md and OUT.png again from OUT.csv, training nothing")
    parser.add_argument("--force", action="store_true",
                        help="replace existing OUT.csv, OUT.md and OUT.png")
    args, common = parser.parse_known_args(argv)
    try:
        labeled_counts = [int(v) for v in args.labeled.split(",")]
    except ValueError:
        labeled_counts = []
    if not labeled_counts or min(labeled_counts) < 1:
        raise ValueError(f"--labeled takes labeled songs per genre, whole numbers >= 1, like "
                         f"1,2,4,8; got {args.labeled!r}")
    if args.folds < 2:
        raise ValueError(f"--folds must be at least 2, got {args.folds}")
    outputs = [f"{args.out}.md", f"{args.out}.png"] + ([] if args.redraw else [f"{args.out}.csv"])
    check_new(outputs, args.force or args.redraw)  # --redraw exists to redraw them
    if args.redraw:
        with open(f"{args.out}.csv", newline="") as handle:
            rows = [{**r, "labeled": int(r["labeled"]), "segment": float(r["segment"]),
                     "song": float(r["song"])} for r in csv.DictReader(handle)]
        gamma = _run_settings(build_parser().parse_args(["cv", "--model", "segment",
                                                         *common])).gamma
        print(write_outputs(rows, args.out, gamma, labeled_counts))
        return 0
    seeds = [int(v) for v in args.seeds.split(",")]
    segment = _run_settings(build_parser().parse_args(["cv", "--model", "segment", *common]))
    plain = replace(segment, gamma=0.0)
    lr_settings = replace(_run_settings(build_parser().parse_args(
        ["cv", "--model", "features-logistic"])), data=segment.data, genres=segment.genres,
        cache_dir=segment.cache_dir, use_cache=segment.use_cache)
    clipset = load_dataset(segment, log=lambda line: None).clipset
    featureset = load_dataset(lr_settings, log=lambda line: None).clipset
    rows = []
    with open(f"{args.out}.csv", "w" if args.force else "x", newline="") as handle:
        writer = csv.DictWriter(handle, ("seed", "fold", "labeled", "model", "segment", "song"))
        writer.writeheader()
        for seed in seeds:
            rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
            folds = song_folds(clipset.labels, args.folds, rng)  # cv's folds for this seed
            for k, test in enumerate(folds):
                train = np.setdiff1d(np.arange(len(clipset)), test)
                for L in labeled_counts:
                    pick = np.random.default_rng([seed, k, L])
                    labeled = labeled_subset(train, clipset.labels, L, pick)
                    run_seed = [seed, k, L]
                    model, plain_scores = segment_model(plain, clipset, train, labeled, test,
                                                        run_seed)
                    _, joint_scores = segment_model(segment, clipset, train, labeled, test,
                                                    run_seed)
                    figures = {MODELS[0]: plain_scores, MODELS[1]: joint_scores,
                               MODELS[2]: pca_codes(model, clipset, train, labeled, test,
                                                    segment.code_dim, lr_settings, run_seed),
                               MODELS[3]: descriptors(featureset, labeled, test, lr_settings,
                                                      run_seed)}
                    for name, (seg, song) in figures.items():
                        row = {"seed": seed, "fold": k + 1, "labeled": L, "model": name,
                               "segment": seg, "song": song}
                        rows.append(row)
                        writer.writerow({**row, "segment": f"{seg:.4f}", "song": f"{song:.4f}"})
                    handle.flush()
                    print(f"seed {seed} fold {k + 1} L={L}: " + ", ".join(
                        f"[{n.replace('G', f'{segment.gamma:g}')}] {s:.3f}/{g:.3f}"
                        for n, (s, g) in figures.items()), flush=True)
    print(write_outputs(rows, args.out, segment.gamma, labeled_counts))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
