"""Atomic ``.npz`` writing, shared by the dataset cache and model files.

The arrays go to a temporary file in the target folder, which is flushed to
disk and then renamed over the target: a crash or Ctrl-C mid-write leaves the
old file intact and no half-written one behind.
"""

import os
from pathlib import Path

import numpy as np


def atomic_savez(path, arrays):
    """Write ``arrays`` (dict name -> ndarray) to ``path`` as an uncompressed .npz, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
