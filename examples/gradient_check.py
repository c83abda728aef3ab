"""Check every gradient of the model against centered differences, then break one on purpose.

    python examples/gradient_check.py                      # small model, every entry
    python examples/gradient_check.py --size study         # the 430k-parameter model, sampled
    python examples/gradient_check.py --break code-sum     # watch the check catch a bug
    python examples/gradient_check.py --dtype float32      # why checks need float64

Bugs to break on purpose: tanh-derivative, code-sum, batch-mean, bias-sum
(see numpy_sae/teaching/gradcheck_demo.py). Same as ``numpy-sae gradcheck``.
"""

import sys

from numpy_sae.commands.cli import main

if __name__ == "__main__":
    sys.exit(main(["gradcheck", *sys.argv[1:]]))
