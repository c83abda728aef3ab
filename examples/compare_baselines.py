"""The joint model against the study's baselines, on one song-level split and seed.

    python examples/compare_baselines.py                       # synthetic default data
    python examples/compare_baselines.py --data DIR --genres all --epochs 100 --lr 1e-3

Prints one table of test accuracy (window and song level) for: the joint
softmax autoencoder; an autoencoder trained alone then a 2-layer classifier on
its frozen codes (the study's baseline); a 2-layer classifier on raw windows.
Same as ``numpy-sae baselines``.
"""

import sys

from numpy_sae.commands.cli import main

if __name__ == "__main__":
    sys.exit(main(["baselines", *sys.argv[1:]]))
