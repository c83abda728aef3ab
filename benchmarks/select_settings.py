"""Choose among candidate settings by nested song-level cross-validation.

    python benchmarks/select_settings.py --data ../shared/gtzan_mini_6 --genres all \\
        --model segment --candidate "" --candidate "--weight-decay 0"

For each outer fold k of ``numpy-sae cv`` (the same seeded folds), every
candidate is scored by an inner cross-validation on fold k's *training* songs
only; the candidate with the best inner segment (or window) accuracy is the
one fold k reports. The test songs of a fold never take part in choosing its
settings, so the figure printed last is an honest estimate of the whole
procedure (choice included). Prints figures; asserts nothing.
"""

import argparse
import csv
import shlex
import sys

import numpy as np

from numpy_sae.commands.cli import build_parser, _run_settings
from numpy_sae.commands.crossval import cross_validate
from numpy_sae.data.splits import song_folds
from script_support import cached_dataset, run_main


def outer_from_csv(paths, rows, seed, folds):
    """Each candidate's outer-fold figures for ``seed``, as cross_validate returns them."""
    found = {}
    for path in paths:
        with open(path, newline="") as handle:
            for r in csv.DictReader(handle):
                if int(r["seed"]) == seed:
                    found.setdefault(r["row"], {})[int(r["fold"])] = (float(r["segment"]),
                                                                      float(r["song"]))
    out = []
    for row in rows:
        figures = found.get(row, {})
        if sorted(figures) != list(range(1, folds + 1)):
            raise SystemExit(f"error: {row!r} lacks folds for seed {seed} in {paths}")
        window = [figures[k][0] for k in range(1, folds + 1)]
        song = [figures[k][1] for k in range(1, folds + 1)]
        out.append({"window": window, "song": song, "window_mean": np.mean(window),
                    "window_std": np.std(window), "song_mean": np.mean(song),
                    "song_std": np.std(song)})
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", action="append", required=True,
                        help="extra cv options of one candidate ('' for the defaults)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--inner-folds", type=int, default=2)
    parser.add_argument("--outer-csv", nargs="+", metavar="CSV", default=[],
                        help="per-fold CSVs of benchmarks/compare_models.py that already hold "
                        "each candidate's outer cross-validation for this seed (not rerun)")
    parser.add_argument("--outer-row", action="append", default=[], metavar="ROW",
                        help="with --outer-csv: the row holding each candidate, in order")
    parser.add_argument("--csv", help="append the nested figures per fold (compare_models' "
                        "columns), to join its table")
    parser.add_argument("--row-name", default="nested choice", help="their row's name")
    args, common = parser.parse_known_args(argv)
    parsed = [build_parser().parse_args(["cv", *common, *shlex.split(c)])
              for c in args.candidate]
    settings = [_run_settings(a) for a in parsed]
    ensembles = [a.ensemble for a in parsed]
    # Every candidate reads its own data (its window, hop, segment length, model kind);
    # the folds are the same song folds for all, from the songs every candidate kept.
    datasets = {}
    clipsets = [cached_dataset(datasets, s).clipset for s in settings]
    if len({tuple(c.paths) for c in clipsets}) > 1:
        raise ValueError("the candidates keep different songs (one skips a song another "
                         "reads), so their folds would differ; give them the same data")
    clips = clipsets[0]
    rng = np.random.default_rng(np.random.SeedSequence(settings[0].seed).spawn(1)[0])
    outer = song_folds(clips.labels, args.folds, rng)  # cross_validate's own folds
    picks = []
    for k in range(args.folds):
        kept = np.setdiff1d(np.arange(len(clips)), outer[k])
        inner = [cross_validate(c.subset(kept), s, args.inner_folds, log=lambda line: None,
                                ensemble=e)
                 for c, s, e in zip(clipsets, settings, ensembles)]
        scores = [r["window_mean"] for r in inner]
        picks.append(int(np.argmax(scores)))
        print(f"outer fold {k + 1}: inner accuracy " + ", ".join(
            f"[{c or 'defaults'}] {v:.3f}" for c, v in zip(args.candidate, scores))
            + f" -> [{args.candidate[picks[-1]] or 'defaults'}]", flush=True)
    # The outer figures are needed only now: read from earlier runs, or measured here.
    if args.outer_csv:
        full = outer_from_csv(args.outer_csv, args.outer_row, settings[0].seed, args.folds)
    else:
        full = [cross_validate(c, s, args.folds, log=lambda line: None, ensemble=e)
                for c, s, e in zip(clipsets, settings, ensembles)]
    chosen_window = [full[best]["window"][k] for k, best in enumerate(picks)]
    chosen_song = [full[best]["song"][k] for k, best in enumerate(picks)]
    if args.csv:
        with open(args.csv, "a", newline="") as handle:
            writer = csv.writer(handle)
            if handle.tell() == 0:
                writer.writerow(["row", "seed", "fold", "segment", "song"])
            for k, (w, g) in enumerate(zip(chosen_window, chosen_song)):
                writer.writerow([args.row_name, settings[0].seed, k + 1, f"{w:.4f}", f"{g:.4f}"])
    for c, r in zip(args.candidate, full):
        print(f"[{c or 'defaults'}] alone: {r['window_mean']:.3f} +- {r['window_std']:.3f} / "
              f"song {r['song_mean']:.3f} +- {r['song_std']:.3f}")
    print(f"nested (choice made on training folds): {np.mean(chosen_window):.3f} +- "
          f"{np.std(chosen_window):.3f} / song {np.mean(chosen_song):.3f} +- "
          f"{np.std(chosen_song):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
