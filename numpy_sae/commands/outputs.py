"""Where commands write: one rule for every file and folder a command creates.

A command never replaces a file it did not create: an existing output is an
error unless the user passed ``--force``, and an output that is one of the
command's own inputs is an error even then. Run folders are created
atomically, so two runs started together can never share one.
"""

import os
from pathlib import Path

from .experiment import JobError

CLAIM = ".numpy_sae-folder"  # the empty file that marks a folder as one command's own


def check_name(name, what="run"):
    """A run or sweep name is one plain folder name: never a path that could leave --out."""
    if (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
            or Path(name).is_absolute() or Path(name).name != name):
        raise JobError(f"{what} name {name!r} must be a single folder name (no '/', '..' or "
                       f"absolute path): the {what} folder is always inside --out")
    return name


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_new_files(outputs, inputs=(), force=False):
    """Refuse outputs that are inputs, or that exist without ``force``.

    outputs : paths the command is about to write
    inputs : paths it reads (an output may never be one of them, whatever ``force`` says)
    """
    for out in map(Path, outputs):
        for given in map(Path, inputs):
            if _same_file(out, given) or out.resolve() == given.resolve():
                raise JobError(f"{out} is also an input of this command; it would be "
                               "overwritten: choose another output name")
        if out.exists() and not force:
            raise JobError(f"{out} already exists; it is not replaced (choose another name, "
                           "or pass --force to replace it)")


def new_folder(parent, name, numbered=False):
    """Create ``parent/name`` atomically and return it.

    With ``numbered`` (a default name), a folder that exists, even one another run
    created a moment ago, gives way to ``name-2``, ``name-3``, ...; otherwise an
    existing non-empty folder is an error, and an empty one is taken.
    """
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        folder = parent / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            if numbered:
                continue
            if not folder.is_dir() or any(folder.iterdir()):
                raise JobError(f"{folder} already exists and is not empty; pick another "
                               "--name") from None
        try:
            # Claimed by creating a file that must not exist: of two runs that both found
            # the folder empty (or both made it), exactly one succeeds.
            (folder / CLAIM).open("x").close()
        except FileExistsError:
            if numbered:
                continue
            raise JobError(f"{folder} was just taken by another run; pick another "
                           "--name") from None
        return folder
    raise JobError(f"could not create a new folder for {name!r} in {parent}")
