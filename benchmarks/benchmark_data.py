"""Speed and memory of the audio pipeline: 400 synthetic 30 s clips to arrays, and the
feature baseline's descriptors of 1000 clips.

    python benchmarks/benchmark_data.py            # about two minutes on 2 cores
    python benchmarks/benchmark_data.py --skip-descriptors

Prints figures, asserts nothing. Each step runs in a fresh process so its peak
memory is its own: generating the synthetic tree, building the arrays cold
(files already in the page cache) with "mean" and with "poly" downsampling,
and loading them from the cache. Peak RSS is given for the main process and
for the largest worker process of its pool.
"""

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = ("generate", "mean", "poly", "cache-write", "cache-read")
DESCRIPTOR_STEPS = ("generate-1000", "descriptors-1000")


def worker(step, folder):
    from numpy_sae.data.descriptors import build_featureset
    from numpy_sae.data.gtzan import GENRES, Preprocessing, build_clipset
    from numpy_sae.data.synth import generate_dataset
    folder = Path(folder)
    start = time.perf_counter()
    clips = 400
    if step == "generate":
        generate_dataset(folder / "data", seed=0)
    elif step == "generate-1000":  # the size of GTZAN: ten genres of 100 clips
        clips = 1000
        generate_dataset(folder / "full", genres=GENRES, seed=0)
    elif step == "descriptors-1000":
        clips = len(build_featureset(folder / "full", "all", use_cache=False, log=lambda s: None))
    elif step in ("mean", "poly"):
        clips = len(build_clipset(folder / "data", preprocessing=Preprocessing(method=step),
                                  use_cache=False, log=lambda s: None))
    else:  # cache-write builds and stores; cache-read must hit that cache
        lines = []
        clips = len(build_clipset(folder / "data", cache_dir=folder / "cache", log=lines.append))
        if step == "cache-read" and not any("from cache" in line for line in lines):
            raise RuntimeError("the cache was not used")
    seconds = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "clips": clips, "rss_mb": own, "worker_rss_mb": workers}))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
        return
    steps = STEPS + (() if "--skip-descriptors" in sys.argv else DESCRIPTOR_STEPS)
    print("| step | seconds | clips/s | peak RSS main (MB) | peak RSS largest worker (MB) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for step in steps:
            if step == "mean":  # read every file once so the timed runs find them in page cache
                subprocess.run([sys.executable, __file__, "--worker", "mean", folder], check=True,
                               capture_output=True)
            done = subprocess.run([sys.executable, __file__, "--worker", step, folder],
                                  capture_output=True, text=True, check=True)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            label = {"generate": "generate 400 synthetic clips (30 s)", "mean": "build, 'mean', cold",
                     "poly": "build, 'poly', cold", "cache-write": "build + write cache",
                     "cache-read": "load from cache",
                     "generate-1000": "generate 1000 synthetic clips (30 s, ten genres)",
                     "descriptors-1000": "descriptors of 1000 clips (full rate, both cores)"}[step]
            print(f"| {label} | {r['seconds']:.2f} | {r['clips'] / r['seconds']:.0f} | "
                  f"{r['rss_mb']:.0f} | {r['worker_rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
