"""Speed and memory of the segment model: seconds per epoch and peak memory.

    python benchmarks/benchmark_segment.py                          # 1000 synthetic clips
    python benchmarks/benchmark_segment.py --clips-per-genre 100 --genres \
        classical,country,metal,pop                                 # the main job's 400
    python benchmarks/benchmark_segment.py --compare --rounds 2     # before/after, A B A B
    python benchmarks/benchmark_segment.py --data ../shared/gtzan_mini_6 --genres all
    python benchmarks/benchmark_segment.py --options "--input waveform --front-end filterbank"

Prints figures, asserts nothing. Each measurement runs in a fresh process:
loading the clips at full rate (through the cache, as the main job does), then
training the segment model with its default settings (24 random 3 s segments
per clip per epoch, batches of 16) for a few epochs; the figure is the median
seconds per epoch. Beside the peak resident memory it prints the size of the
signals kept in memory and of the stored log spectra (float16).

``--compare`` measures the two ways of reading frames in turn, A B A B ...:
"transformed" cuts each batch's frames and takes their spectra again every
epoch (how the segment model trained before), "stored" computes every frame's
log spectrum once per run (``data.segments.FrameTable``) and reads it.
"""

import argparse
import json
import resource
import shlex
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np


def measure(data, genres, clips_per_genre, epochs, cache_dir, options="", stored=True):
    """One dataset, in this process: load, train, and report figures as a dict.

    options : the segment model's options as the CLI takes them (e.g. a front end)
    stored : read the frames' spectra from a FrameTable (False: transform every epoch)"""
    from numpy_sae.commands import experiment
    from numpy_sae.commands.cli import _run_settings, build_parser
    from numpy_sae.commands.experiment import load_dataset, make_trainer, new_audio_model
    from numpy_sae.commands.experiment import training_source

    settings = replace(_run_settings(build_parser().parse_args(
        ["cv", "--model", "segment", *shlex.split(options)])), data=data, cache_dir=cache_dir,
        genres=genres)
    if data is None:  # the synthetic set, at the size asked for
        experiment.SYNTH_FULL = {"clips_per_genre": clips_per_genre, "duration": 30.0}
    began = time.perf_counter()
    dataset = load_dataset(settings, log=lambda line: None)
    load_seconds = time.perf_counter() - began
    clipset = dataset.clipset
    rng = np.random.default_rng(0)
    model = new_audio_model(settings, clipset, rng)
    clips = np.arange(len(clipset))
    began = time.perf_counter()
    table = model.frame_table(clipset) if stored else None
    table_seconds = time.perf_counter() - began
    x_grid, y_grid, _ = model.windows(clipset, clips, table)
    model.network.fit_scaling(x_grid)
    source = training_source(settings, clipset, clips, x_grid, y_grid, model.features)
    trainer = make_trainer(settings, model.network, source, None, rng, log=None)
    trainer.fit(epochs)
    pre = clipset.preprocessing
    n_frames = sum((clipset.offsets[i + 1] - clipset.offsets[i] - pre.window) // pre.hop + 1
                   for i in clips)
    return {"clips": len(clipset), "load_seconds": load_seconds,
            "table_seconds": table_seconds,
            "table_mb": 0.0 if table is None else table.nbytes / 1e6,
            "epoch_seconds": trainer.history["seconds"],
            "segments_per_epoch": len(source), "signals_mb": clipset.signals.nbytes / 1e6,
            "all_frames_mb": n_frames * model.network.input_dim * 4 / 1e6,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "parameters": model.network.n_parameters}


def run_worker(args, stored):
    """One measurement in a fresh process; returns its figures."""
    command = [sys.executable, __file__, "--worker", "--epochs", str(args.epochs),
               "--clips-per-genre", str(args.clips_per_genre)]
    if not stored:
        command.append("--transformed")
    for option in ("data", "genres", "cache_dir", "options"):
        if getattr(args, option):
            command.append(f"--{option.replace('_', '-')}={getattr(args, option)}")
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"benchmark_segment: the measurement failed: "
                 f"{(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    return json.loads(done.stdout.splitlines()[-1])


def describe(r, label):
    epochs = r["epoch_seconds"]
    return (f"  {label}: seconds per epoch ({r['segments_per_epoch']} segments of 3 s) "
            + ", ".join(f"{s:.1f}" for s in epochs) + f"; median {np.median(epochs):.1f}; "
            f"peak memory {r['peak_rss_mb']:.0f} MB (signals {r['signals_mb']:.0f} MB"
            + (f", stored spectra {r['table_mb']:.0f} MB computed in "
               f"{r['table_seconds']:.1f} s" if r["table_mb"] else "")
            + f"); load {r['load_seconds']:.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a GTZAN-style folder (default: synthetic clips)")
    parser.add_argument("--genres", default=None, help="comma-separated, or 'all'")
    parser.add_argument("--clips-per-genre", type=int, default=100,
                        help="synthetic clips per genre (100: 1000 clips of ten genres)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--options", default="", help="the segment model's CLI options")
    parser.add_argument("--compare", action="store_true",
                        help="measure transformed and stored frames in turn")
    parser.add_argument("--rounds", type=int, default=2,
                        help="with --compare: how many times each is measured (2)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--transformed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    genres = args.genres.split(",") if args.genres else ["all"]
    if args.worker:
        print(json.dumps(measure(args.data, genres, args.clips_per_genre, args.epochs,
                                 args.cache_dir, args.options, stored=not args.transformed)))
        return
    modes = [False, True] * args.rounds if args.compare else [True]
    results = [(stored, run_worker(args, stored)) for stored in modes]
    r = results[0][1]
    what = args.data or f"synthetic, {r['clips']} clips of 30 s"
    print(f"segment model {args.options or '(defaults)'} ({r['parameters']:,} parameters) on "
          f"{what}, {args.epochs} epochs per measurement:")
    for stored, r in results:
        print(describe(r, "stored spectra" if stored else "transformed every epoch"))
    if args.compare:
        median = {stored: np.median([np.median(r["epoch_seconds"]) for s, r in results
                                     if s == stored]) for stored in (False, True)}
        print(f"  median seconds per epoch: transformed {median[False]:.1f}, stored "
              f"{median[True]:.1f} ({median[False] / median[True]:.2f}x)")


if __name__ == "__main__":
    main()
