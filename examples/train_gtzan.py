"""The main job: train the softmax autoencoder's segment model on GTZAN, write a run folder.

    python examples/train_gtzan.py                   # GTZAN if found, else synthetic audio
    python examples/train_gtzan.py --data ~/gtzan/Data --genres all
    python examples/train_gtzan.py --model joint     # the study's window model
    python examples/train_gtzan.py --study           # the study's exact settings
    python examples/train_gtzan.py --quick           # a small run
    python examples/train_gtzan.py --help            # every option

Same as ``numpy-sae train``: see numpy_sae/commands/job.py for the steps it takes.
"""

import sys

from numpy_sae.commands.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
