"""The main job: train the deep softmax autoencoder on GTZAN and write a run folder.

    python examples/train_gtzan.py                   # GTZAN if found, else synthetic audio
    python examples/train_gtzan.py --data ~/gtzan/Data --genres all
    python examples/train_gtzan.py --quick           # a small run that ends in seconds
    python examples/train_gtzan.py --help            # every option

Same as ``numpy-sae train``: see numpy_sae/job.py for the steps it takes.
"""

import sys

from numpy_sae.commands.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
