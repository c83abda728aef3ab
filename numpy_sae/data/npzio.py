"""Atomic ``.npz`` writing, shared by the dataset cache and model files.

The arrays go to a temporary file in the target folder, which is flushed to
disk and then renamed over the target: a crash or Ctrl-C mid-write leaves the
old file intact and no half-written one behind.
"""

import contextlib
import glob
import os
from pathlib import Path

import numpy as np


def atomic_savez(path, arrays):
    """Write ``arrays`` (dict name -> ndarray) to ``path`` as an uncompressed .npz, atomically."""
    path = Path(path)
    if not path.name or path.is_dir():
        raise IsADirectoryError(f"{str(path) or '.'} is a folder: give the file to write, "
                                f"such as {path / 'model.npz'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temp_files(path)
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


def _remove_stale_temp_files(path):
    """Delete temp files of earlier writes to ``path`` whose process is gone (killed mid-write)."""
    prefix = f".{path.name}.tmp"
    for tmp in path.parent.glob(glob.escape(prefix) + "*"):
        pid = tmp.name[len(prefix):]
        if pid.isdigit() and not process_alive(int(pid)):
            with contextlib.suppress(OSError):
                tmp.unlink()


def process_alive(pid):
    """Whether a process with this pid exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process, or not a pid we can ask about: leave it
    return True
