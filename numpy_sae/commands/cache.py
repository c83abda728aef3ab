"""The ``cache`` command: what numpy_sae keeps in its cache folder, and clearing it.

The cache holds the loaded clips of every data folder and preprocessing
(``clips-<key>.npz``), engineered descriptors (``features-<key>.npz``) and the
synthetic datasets (``synthetic-*/``). Only entries of those names are listed
or removed, so a cache folder set to a place that holds other files
(``$NUMPY_SAE_CACHE``, ``--cache-dir``) loses nothing else.
"""

import re
import shutil
from pathlib import Path

from ..data.gtzan import default_cache_dir

ENTRY = re.compile(r"^(clips|features|unlabeled)-[0-9a-f]+\.npz$|^synthetic-[\w.-]+$")


def cache_entries(folder):
    """[(path, bytes)] of numpy_sae's own entries in ``folder``, largest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        if ENTRY.match(path.name) and not path.is_symlink():
            size = (sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
                    if path.is_dir() else path.stat().st_size)
            found.append((path, size))
    return sorted(found, key=lambda entry: -entry[1])


def run_cache(cache_dir=None, clear=False, log=print):
    """List the cache (or, with ``clear``, remove its entries); returns the bytes listed."""
    folder = Path(cache_dir) if cache_dir else default_cache_dir()
    entries = cache_entries(folder)
    total = sum(size for _, size in entries)
    if not entries:
        log(f"{folder}: no cached data")
        return 0
    for path, size in entries:
        if clear:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        log(f"{'removed ' if clear else ''}{size / 1e6:10.1f} MB  {path.name}")
    log(f"{folder}: {len(entries)} entries, {total / 1e6:.1f} MB"
        + (" removed" if clear else " (numpy-sae cache --clear removes them)"))
    return total
