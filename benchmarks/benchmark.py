"""Speed of training the study's network: numpy_sae against idiomatic PyTorch on this CPU.

    python benchmarks/benchmark.py                 # everything (about 4 minutes on 2 cores)
    python benchmarks/benchmark.py --rounds 5 --epochs 15 --skip-study-run
    python benchmarks/benchmark.py --profile       # where an epoch's time goes
    python benchmarks/benchmark.py --adam          # textbook Adam step against the fused one

Prints figures, asserts nothing. Each round trains the study configuration
(430,392 parameters, batch 512, Adam) on 8000 random float32 windows in a
fresh process, first numpy_sae then (if ``torch`` imports) PyTorch, and takes
the median seconds per epoch with the first epoch left out. The numpy_sae
process then times the model's own matrix products alone (the ceiling: no
epoch can be faster), so each round's fraction of the ceiling compares two
figures taken under the same machine conditions. Also: FLOPs per epoch from
the architecture, the full 200-epoch study run (time and peak memory), the
time to build the 400-clip dataset, and ``predict`` latency on a 30 s clip.
torch is not a dependency of numpy_sae: without it that column is skipped.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_WINDOWS, BATCH, INPUT = 8000, 512, 500
ENCODER, DECODER, CLASSIFIER = (500, 256, 192, 128, 64), (64, 128, 192, 256, 500), (64, 128, 4)


def layer_shapes():
    shapes = []
    for sizes in (ENCODER, DECODER, CLASSIFIER):
        shapes += list(zip(sizes[:-1], sizes[1:]))
    return shapes


def flops_per_epoch():
    """Matrix-product FLOPs of one epoch: forward x @ W, backward x.T @ dout and dout @ W.T
    (the first layer needs no dout @ W.T: its input is data)."""
    per_example = sum(6 * a * b for a, b in layer_shapes()) - 2 * INPUT * ENCODER[1]
    return per_example * N_WINDOWS


def matmul_ceiling(repeats=30):
    """Seconds per epoch if only the model's own matrix products ran (best of `repeats`).

    Outputs go to preallocated arrays, so this is BLAS time alone: allocating a
    fresh result per product would add page faults here that training does not
    pay, and flatter the fraction of the ceiling reached.
    """
    rng = np.random.default_rng(0)
    total = 0.0
    batches = [BATCH] * (N_WINDOWS // BATCH) + ([N_WINDOWS % BATCH] if N_WINDOWS % BATCH else [])
    for n in sorted(set(batches)):
        count = batches.count(n)
        for i, (a, b) in enumerate(layer_shapes()):
            x = rng.standard_normal((n, a), dtype=np.float32)
            W = rng.standard_normal((a, b), dtype=np.float32)
            d = rng.standard_normal((n, b), dtype=np.float32)
            out, dW = np.empty((n, b), np.float32), np.empty((a, b), np.float32)
            dx = np.empty((n, a), np.float32)
            products = [lambda: np.matmul(x, W, out=out), lambda: np.matmul(x.T, d, out=dW)]
            if i:  # the first layer's input gradient is never computed
                products.append(lambda: np.matmul(d, W.T, out=dx))
            for product in products:
                product()
                best = min(_timed(product) for _ in range(repeats))
                total += best * count
    return total


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----- workers: each runs in its own process --------------------------------------------------
def data(n=None, seed=0):
    n = N_WINDOWS if n is None else n
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, INPUT), dtype=np.float32), rng.integers(0, 4, n)


def numpy_worker(epochs, validation=False, ceiling=True):
    """Train in this process; epoch times are taken between the trainer's end-of-epoch
    callbacks, so they include everything a real run does per epoch (the rollback
    snapshot, validation if any). The ceiling is then measured in the same process,
    under the same machine conditions."""
    from numpy_sae.nn.model import SoftmaxAutoencoderNetwork
    from numpy_sae.nn.optim import make_optimizer
    from numpy_sae.train import Trainer, WindowSource
    x, y = data()
    model = SoftmaxAutoencoderNetwork(n_classes=4, seed=0)
    model.fit_scaling(x)
    val = data(2000, seed=1) if validation else None
    trainer = Trainer(model, make_optimizer("adam", 1e-4), WindowSource(x, y), validation=val,
                      batch_size=BATCH, rng=np.random.default_rng(0), log=None)
    stamps = [time.perf_counter()]
    trainer.fit(epochs, on_epoch_end=lambda _: stamps.append(time.perf_counter()))
    result = {"epoch_seconds": np.diff(stamps).tolist(), "peak_rss_mb": peak_rss_mb()}
    if ceiling:
        result["ceiling_seconds"] = matmul_ceiling()
    return result


def torch_worker(epochs):
    import torch
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    x_np, y_np = data()
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)

    def stack(sizes, last):
        layers = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers += [torch.nn.Linear(a, b)]
            if i < len(sizes) - 2 or last:
                layers += [torch.nn.Tanh()]
        return torch.nn.Sequential(*layers)

    encoder, decoder, classifier = stack(ENCODER, True), stack(DECODER, False), stack(CLASSIFIER, False)
    params = [*encoder.parameters(), *decoder.parameters(), *classifier.parameters()]
    optimizer = torch.optim.Adam(params, lr=1e-4)
    cross_entropy = torch.nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(N_WINDOWS)
        for i in range(0, N_WINDOWS, BATCH):
            idx = order[i:i + BATCH]
            xb, yb = x[idx], y[idx]
            code = encoder(xb)
            reconstruction = ((decoder(code) - xb) ** 2).sum(dim=1).mean()
            loss = 0.9 * reconstruction + 0.1 * cross_entropy(classifier(code), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - start)
    return {"epoch_seconds": times, "peak_rss_mb": peak_rss_mb()}


def run_worker(kind, epochs, validation=False):
    """Run a worker in a fresh Python process; return its JSON result."""
    cmd = [sys.executable, __file__, "--worker", kind, "--epochs", str(epochs)]
    if validation:
        cmd.append("--validation")
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def torch_available():
    try:
        done = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                              capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return None
    return done.stdout.strip() if done.returncode == 0 else None


# ----- the other figures ------------------------------------------------------------------------
def dataset_build_seconds():
    from numpy_sae.data.gtzan import build_clipset, default_cache_dir
    from numpy_sae.data.synth import generate_dataset
    root = default_cache_dir() / "synthetic-classical-country-metal-pop-100x30s-seed0"
    if not (root / "genres_original" / "SYNTHETIC.json").exists():
        generate_dataset(root, seed=0)
    build_clipset(root, use_cache=False, log=lambda s: None)  # warm the page cache
    start = time.perf_counter()
    clips = build_clipset(root, use_cache=False, log=lambda s: None)
    return time.perf_counter() - start, len(clips)


def predict_latency_ms(repeats=30):
    from numpy_sae.audio_model import AudioModel
    from numpy_sae.data.gtzan import Preprocessing
    from numpy_sae.data.synth import generate_dataset
    from numpy_sae.nn.model import SoftmaxAutoencoderNetwork
    with tempfile.TemporaryDirectory() as tmp:
        song = generate_dataset(tmp, genres=("pop", "metal"), clips_per_genre=1, duration=30.0,
                                workers=1) / "pop" / "pop.00000.wav"
        AudioModel(SoftmaxAutoencoderNetwork(n_classes=4), Preprocessing(), "waveform",
                   ["classical", "country", "metal", "pop"]).save(Path(tmp) / "model.npz")
        model, _, _ = AudioModel.load(Path(tmp) / "model.npz")
        model.predict_file(song)
        times = [_timed(lambda: model.predict_file(song)) for _ in range(repeats)]
    return 1e3 * float(np.median(times))


def profile(epochs):
    """Print the functions an epoch spends its time in, in milliseconds per epoch."""
    import cProfile
    import pstats
    profiler = cProfile.Profile()
    profiler.runcall(numpy_worker, epochs, ceiling=False)
    stats = pstats.Stats(profiler).stats
    # pstats rows: function -> (primitive calls, calls, own time, cumulative time, callers)
    rows = sorted(((own, func) for func, (_, _, own, _, _) in stats.items()), reverse=True)
    print(f"own time per epoch by function (cProfile over {epochs} epochs, setup included):")
    for own, (filename, line, name) in rows[:12]:
        print(f"  {1e3 * own / epochs:7.1f} ms  {name}  ({Path(filename).name}:{line})")


def adam_forms(repeats=20):
    """Seconds per epoch of Adam updates alone for the study's 430,392 parameters (16 steps
    of batch 512 per 8000 windows): the textbook adam_step students read against the fused
    adam_step_fused training runs (equal results, tested)."""
    from numpy_sae.nn.optim import adam_step, adam_step_fused
    rng = np.random.default_rng(0)
    shapes = layer_shapes()
    params = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    params += [rng.standard_normal(s[1]).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(p.shape).astype(np.float32) for p in params]
    steps = -(-N_WINDOWS // BATCH)
    print(f"Adam over {sum(p.size for p in params):,} float32 parameters, {steps} steps "
          f"per epoch (best of {repeats}):")
    for name, step in (("adam_step (textbook)", adam_step), ("adam_step_fused", adam_step_fused)):
        moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
        best = np.inf
        for _ in range(repeats):
            started = time.perf_counter()
            for t in range(1, steps + 1):
                for p, g, (m, v) in zip(params, grads, moments):
                    step(p, g, m, v, t, 1e-4)
            best = min(best, time.perf_counter() - started)
        print(f"  {name:22} {best:7.3f} s per epoch")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adam", action="store_true",
                        help="only time the textbook Adam step against the fused one")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=11, help="epochs per round (first dropped)")
    parser.add_argument("--skip-study-run", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="only print where an epoch's time goes (cProfile, this process)")
    parser.add_argument("--worker", choices=("numpy", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--validation", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        # The study run (--validation) is timed from outside, start to end: timing the
        # ceiling inside it would add seconds of matrix products to that figure.
        result = (numpy_worker(args.epochs, args.validation, ceiling=not args.validation)
                  if args.worker == "numpy" else torch_worker(args.epochs))
        print(json.dumps(result))
        return
    if args.adam:
        adam_forms()
        return
    if args.rounds < 3 or args.epochs < 11:
        parser.error("use at least 3 rounds of 11 epochs (10 measured)")
    if args.profile:
        profile(args.epochs)
        return

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, NumPy {np.__version__}")
    torch_version = torch_available()
    print(f"torch: {torch_version or 'not installed: the PyTorch comparison is skipped'}")
    flops = flops_per_epoch()
    print(f"matrix work per epoch: {flops / 1e9:.2f} GFLOP")

    # Each round measures its own ceiling right after training, in the same process: on a
    # shared machine the speed drifts, and a fraction is only meaningful within one round.
    ours, ceilings, fractions, theirs, ratios, peaks = [], [], [], [], [], []
    for r in range(args.rounds):
        result = run_worker("numpy", args.epochs)
        mine = float(np.median(result["epoch_seconds"][1:]))
        ours.append(mine)
        peaks.append(result["peak_rss_mb"])
        ceilings.append(result["ceiling_seconds"])
        fractions.append(result["ceiling_seconds"] / mine)
        line = (f"round {r + 1}: numpy_sae {mine:.3f} s/epoch, ceiling "
                f"{result['ceiling_seconds']:.3f} ({fractions[-1]:.0%})")
        if torch_version:
            other = float(np.median(run_worker("torch", args.epochs)["epoch_seconds"][1:]))
            theirs.append(other)
            ratios.append(mine / other)
            line += f", torch {other:.3f} s/epoch, ratio {mine / other:.2f}"
        print(line, flush=True)

    epoch, ceiling = float(np.median(ours)), float(np.median(ceilings))
    rows = [("numpy_sae seconds per epoch (median)", f"{epoch:.3f}"),
            ("achieved GFLOP/s", f"{flops / epoch / 1e9:.0f}"),
            ("matrix-product ceiling, s/epoch (median)",
             f"{ceiling:.3f} ({flops / ceiling / 1e9:.0f} GFLOP/s)"),
            ("fraction of the ceiling (median per round)", f"{float(np.median(fractions)):.0%}"),
            ("peak memory of a numpy_sae round (MB, largest)", f"{max(peaks):.0f}")]
    if ratios:
        rows += [("torch seconds per epoch (median)", f"{float(np.median(theirs)):.3f}"),
                 ("ratio numpy_sae / torch (median per round)", f"{float(np.median(ratios)):.2f}")]
    if not args.skip_study_run:
        start = time.perf_counter()
        study = run_worker("numpy", 200, validation=True)
        rows += [("200-epoch study run, 8000 + 2000 validation windows (s)",
                  f"{time.perf_counter() - start:.1f}"),
                 ("peak memory of the study run (MB)", f"{study['peak_rss_mb']:.0f}")]
    seconds, n_clips = dataset_build_seconds()
    rows.append((f"build the {n_clips}-clip dataset, no cache (s)", f"{seconds:.2f}"))
    rows.append(("predict on one 30 s clip after loading (ms)", f"{predict_latency_ms():.1f}"))
    print()
    print("| figure | value |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
