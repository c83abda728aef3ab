"""Atomic ``.npz`` writing, shared by the dataset cache and model files.

The arrays go to a temporary file in the target folder, which is flushed to
disk and then renamed over the target: a crash or Ctrl-C mid-write leaves the
old file intact and no half-written one behind.
"""

import contextlib
import glob
import os
import zipfile
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


def check_archive(path):
    """Raise ValueError unless every member of the .npz at ``path`` matches the CRC-32 its
    archive records. ``np.load`` does not always read a member to its end, where zipfile
    checks it: a changed byte in an array's header can change its values unnoticed."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        raise ValueError(f"damaged archive ({exc})") from None
    if bad is not None:
        raise ValueError(f"damaged archive (member {bad} does not match its CRC-32)")


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
