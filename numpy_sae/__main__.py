"""``python -m numpy_sae COMMAND ...``: the same as the ``numpy-sae`` command."""

import sys

from .commands.cli import main

if __name__ == "__main__":
    sys.exit(main())
