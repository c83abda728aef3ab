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
from script_support import cached_dataset, check_new, run_main

FIELDS = ("row", "seed", "fold", "segment", "song", "song_logmean", "song_vote", "ece")


def parse_row(text):
    name, _, options = text.partition("=")
    if not name.strip():
        raise SystemExit(f"error: --row needs NAME=OPTIONS, got {text!r}")
    return name.strip(), shlex.split(options)


def row_settings(rows, seeds, folds, common):
    """Every (row, seed)'s parsed options, checked before anything is trained: a row's
    own --folds must be the table's (the rows are paired fold by fold)."""
    parsed = {}
    for seed in seeds:
        for name, options in rows:
            args = build_parser().parse_args(["cv", *common, *options, "--seed", str(seed)])
            asked = any(o == "--folds" or o.startswith("--folds=") for o in options)
            if asked and args.folds != folds:
                raise ValueError(f"row {name!r} asks for --folds {args.folds}; every row uses "
                                 f"the table's --folds {folds} (rows are paired fold by fold)")
            parsed[name, seed] = (args, _run_settings(args))
    return parsed


def run(rows, seeds, folds, common, csv_path, log=print, force=False):
    """Per-fold figures of every row and seed: {row: {"segment": (seeds, folds), "song": ...}}.

    Each row is scored on its own data (its --data, --genres and preprocessing)."""
    if folds < 2:
        raise ValueError(f"--folds must be at least 2, got {folds}")
    parsed = row_settings(rows, seeds, folds, common)
    check_new([csv_path], force)
    out = {name: {"segment": np.full((len(seeds), folds), np.nan),
                  "song": np.full((len(seeds), folds), np.nan)} for name, _ in rows}
    datasets = {}
    with open(csv_path, "w" if force else "x", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for s, seed in enumerate(seeds):
            for name, options in rows:
                args, settings = parsed[name, seed]
                dataset = cached_dataset(datasets, settings)

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
    """Markdown table: mean +- std over (seed, fold) pairs, and paired differences.

    out : {row: {"segment": (seeds, folds) array or {(seed, fold): value}, "song": ...}}
    """
    out = {name: {level: _by_pair(v) for level, v in figures.items()}
           for name, figures in out.items()}
    lines = ["| model | seeds x folds | segment | song | segment - baseline (won/tied/lost) | "
             "song - baseline (won/tied/lost) |", "|---|---|---|---|---|---|"]
    for name, figures in out.items():
        pairs = sorted(figures["segment"])
        seeds = sorted({seed for seed, _ in pairs})
        cells = [name, f"{len(seeds)} x {len(pairs) // max(len(seeds), 1)}"]
        for level in ("segment", "song"):
            v = np.array(list(figures[level].values()))
            cells.append(f"{v.mean():.3f} +- {v.std():.3f}")
        for level in ("segment", "song"):
            if name == baseline:
                cells.append("(baseline)")
                continue
            base = out[baseline][level]
            d = np.array([figures[level][k] - base[k] for k in sorted(figures[level])
                          if k in base])
            cells.append(f"{d.mean():+.3f} +- {d.std():.3f} ({np.sum(d > 1e-9)}/"
                         f"{np.sum(np.abs(d) <= 1e-9)}/{np.sum(d < -1e-9)})" if len(d) else "")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _by_pair(values):
    """{(seed index or seed, fold): value} from an array (seeds, folds) or such a dict."""
    if isinstance(values, dict):
        return values
    return {(s, k): float(v) for (s, k), v in np.ndenumerate(values) if np.isfinite(v)}


def read_csvs(paths):
    """Per-fold figures of earlier runs, merged: {row: {"segment": {(seed, fold): v}, ...}}.
    A row measured in two files on the same seed and fold must agree (the baseline is
    rerun in each file, and the same seed gives the same folds and the same figures)."""
    out = {}
    for path in paths:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [f for f in ("row", "seed", "fold", "segment", "song")
                       if f not in (reader.fieldnames or [])]
            if missing:
                raise ValueError(f"{path} has no column {', '.join(missing)}: not a per-fold "
                                 "CSV of this script")
            for r in reader:
                key = (int(r["seed"]), int(r["fold"]))
                for level in ("segment", "song"):
                    cell = out.setdefault(r["row"], {"segment": {}, "song": {}})[level]
                    value = float(r[level])
                    if key in cell and abs(cell[key] - value) > 1e-4:
                        raise SystemExit(f"error: {r['row']} seed {key[0]} fold {key[1]}: "
                                         f"{cell[key]} in one file, {value} in {path}")
                    cell[key] = value
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--row", action="append", type=parse_row,
                        help="NAME=cv options of one row; the first row is the baseline")
    parser.add_argument("--table", nargs="+", type=Path, metavar="CSV",
                        help="print one table from the per-fold CSVs of earlier runs instead "
                        "of running (rows in order of appearance; --baseline names the baseline)")
    parser.add_argument("--baseline", default="descriptors + LR",
                        help="with --table: the row the others are paired with")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (0,1,2)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--csv", type=Path, default=Path("compare_models.csv"),
                        help="per-fold figures, written as they finish (an existing file is "
                        "not replaced without --force)")
    parser.add_argument("--force", action="store_true", help="replace an existing --csv")
    args, common = parser.parse_known_args(argv)
    if args.table:
        merged = read_csvs(args.table)
        if args.baseline not in merged:
            raise SystemExit(f"error: no row {args.baseline!r} in {', '.join(map(str, args.table))}")
        print(table(merged, args.baseline))
        return 0
    if not args.row:
        raise SystemExit("error: give --row NAME=OPTIONS (one or more) or --table CSV ...")
    seeds = [int(s) for s in args.seeds.split(",")]
    names = [name for name, _ in args.row]
    if len(set(names)) != len(names):
        raise SystemExit("error: two rows share a name")
    out = run(args.row, seeds, args.folds, common, args.csv, force=args.force)
    print(f"\n{args.folds} song-level folds x seeds {args.seeds}; per-fold figures in {args.csv}")
    print(table(out, names[0]))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
