"""One table of models on the same song-level folds, over several seeds, with paired differences.

    python benchmarks/compare_models.py --data ../shared/gtzan_mini_6 --genres all \\
        --seeds 0,1,2 --row "descriptors + LR=--model features-logistic" \\
        --row "segment=--model segment" --row "segment, gamma 0=--model segment --gamma 0"

Every row runs ``numpy-sae cv`` with its options and each seed; a seed fixes the folds
(and the weights), so all rows see the same test songs per seed and fold, and the
difference of two rows on one fold is paired. The first row is the baseline: each other
row gets the mean +- std over all (seed, fold) pairs of its difference to it, and how
many folds it won, tied and lost. Per-fold figures go to ``--csv`` as they finish (a
stopped run keeps what it measured). Prints figures; asserts nothing.
"""

import argparse
import csv
import shlex
import sys
from pathlib import Path

import numpy as np

from numpy_sae.commands.cli import _run_settings, build_parser
from numpy_sae.commands.crossval import cross_validate
from numpy_sae.commands.experiment import load_dataset

FIELDS = ("row", "seed", "fold", "segment", "song", "song_logmean", "song_vote", "ece")


def parse_row(text):
    name, _, options = text.partition("=")
    if not name.strip():
        raise SystemExit(f"error: --row needs NAME=OPTIONS, got {text!r}")
    return name.strip(), shlex.split(options)


def run(rows, seeds, folds, common, csv_path, log=print):
    """Per-fold figures of every row and seed: {row: {"segment": (seeds, folds), "song": ...}}."""
    out = {name: {"segment": np.full((len(seeds), folds), np.nan),
                  "song": np.full((len(seeds), folds), np.nan)} for name, _ in rows}
    clipsets = {}
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for s, seed in enumerate(seeds):
            for name, options in rows:
                args = build_parser().parse_args(["cv", *common, *options, "--seed", str(seed)])
                settings = _run_settings(args)
                key = (repr(settings.preprocessing()), settings.uses_descriptors(),
                       settings.unlabeled)
                dataset = clipsets.get(key) or load_dataset(settings, log=lambda line: None)
                clipsets[key] = dataset

                def on_fold(fold, name=name, seed=seed, s=s):
                    k = fold["fold"] - 1
                    out[name]["segment"][s, k] = fold["window"]
                    out[name]["song"][s, k] = fold["song"]
                    writer.writerow({"row": name, "seed": seed, "fold": fold["fold"],
                                     "segment": f"{fold['window']:.4f}",
                                     "song": f"{fold['song']:.4f}",
                                     **{k: f"{fold[k]:.4f}"
                                        for k in ("song_logmean", "song_vote", "ece")}})
                    handle.flush()

                result = cross_validate(dataset.clipset, settings, folds, log=lambda line: None,
                                        unlabeled=dataset.unlabeled, on_fold=on_fold,
                                        ensemble=args.ensemble)
                log(f"seed {seed} [{name}]: segment {result['window_mean']:.3f}, song "
                    f"{result['song_mean']:.3f} ({result['seconds']:.0f} s)")
    return out


def table(out, baseline):
    """Markdown table: mean +- std over (seed, fold) pairs, and paired differences."""
    lines = ["| model | segment | song | segment - baseline (won/tied/lost) | "
             "song - baseline (won/tied/lost) |", "|---|---|---|---|---|"]
    for name, figures in out.items():
        cells = [name]
        for level in ("segment", "song"):
            v = figures[level]
            cells.append(f"{np.nanmean(v):.3f} +- {np.nanstd(v):.3f}")
        for level in ("segment", "song"):
            if name == baseline:
                cells.append("(baseline)")
                continue
            d = figures[level] - out[baseline][level]
            d = d[np.isfinite(d)]
            cells.append(f"{d.mean():+.3f} +- {d.std():.3f} ({np.sum(d > 1e-9)}/"
                         f"{np.sum(np.abs(d) <= 1e-9)}/{np.sum(d < -1e-9)})" if len(d) else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", action="append", required=True, type=parse_row,
                        help="NAME=cv options of one row; the first row is the baseline")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (0,1,2)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--csv", type=Path, default=Path("compare_models.csv"),
                        help="per-fold figures, written as they finish")
    args, common = parser.parse_known_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    names = [name for name, _ in args.row]
    if len(set(names)) != len(names):
        raise SystemExit("error: two rows share a name")
    out = run(args.row, seeds, args.folds, common, args.csv)
    print(f"\n{args.folds} song-level folds x seeds {args.seeds}; per-fold figures in {args.csv}")
    print(table(out, names[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
