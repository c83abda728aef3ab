"""Where commands write: one rule for every file and folder a command creates.

A command never replaces a file it did not create: an existing output is an
error unless the user passed ``--force``, and an output that is one of the
command's own inputs is an error even then. Run folders are created
atomically, so two runs started together can never share one; every output
file is written under a temporary name and claimed only when it is complete
(:func:`written_output`), so a failure leaves nothing behind and two commands
writing one file cannot both succeed.
"""

import contextlib
import itertools
import os
import unicodedata
from pathlib import Path

from ..data.npzio import process_alive as _process_alive
from .experiment import JobError

CLAIM = ".numpy_sae-folder"  # the empty file that marks a folder as one command's own
_TEMP_NUMBERS = itertools.count()


def one_line(text):
    """``text`` with its control characters escaped (a newline becomes ``\\n``), so a file
    name holding one still prints on one line: ``file: genre`` stays parseable."""
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode()
                   for c in str(text))


def check_name(name, what="run"):
    """A run or sweep name is one plain folder name: never a path that could leave --out."""
    if (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
            or Path(name).is_absolute() or Path(name).name != name):
        raise JobError(f"{what} name {name!r} must be a single folder name (no '/', '..' or "
                       f"absolute path): the {what} folder is always inside --out")
    if not name.strip() or any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")
                               for c in name):
        raise JobError(f"{what} name {name!r} must hold visible characters and no control "
                       f"characters (newlines, tabs): it names a folder and is printed")
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
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise JobError(f"--out {parent} is (or is inside) a file, not a folder") from None
    except OSError as exc:
        raise JobError(f"cannot create the folder {parent}: {exc.strerror or exc}") from None
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


@contextlib.contextmanager
def written_output(path, force=False):
    """Write one output file safely: yields a temporary path beside ``path`` (same
    suffix, so writers that read it still work); when the block ends without error the
    temporary file becomes ``path``.

    Without ``force`` the file is claimed exclusively at that moment (a hard link, which
    fails when ``path`` exists): of two commands writing the same output, the second gets
    the "already exists" error instead of silently replacing the first's file. With
    ``force`` it is renamed over ``path``, which replaces a symbolic link itself, never
    the file the link points to. On any error the temporary file is removed, so a full
    disk or Ctrl-C leaves no truncated output that would block the rerun.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}-{next(_TEMP_NUMBERS)}{path.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        if force:
            os.replace(tmp, path)
        else:
            _claim(tmp, path)
    except OSError as exc:
        # A full or read-only disk: name the output the user asked for, not the
        # temporary file beside it.
        raise JobError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _claim(tmp, path):
    """Give ``tmp`` the name ``path`` unless ``path`` exists at this moment."""
    try:
        try:
            os.link(tmp, path)
            return
        except FileExistsError:
            raise
        except OSError:
            # A file system without hard links: claim the name, then move the file in.
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            os.replace(tmp, path)
    except FileExistsError:
        raise JobError(f"{path} already exists (another command wrote it meanwhile); it is "
                       "not replaced: choose another name, or pass --force") from None


LOCK = ".numpy_sae-lock"  # a run folder being trained: holds the pid of the command


@contextlib.contextmanager
def folder_lock(folder):
    """Hold ``folder`` for one command: a second command that asks while the first runs
    gets an error naming it. A lock left by a process that is gone (killed) is taken over."""
    lock = Path(folder) / LOCK
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            holder = lock.read_text().strip() if lock.exists() else ""
            if holder.isdigit() and _process_alive(int(holder)):
                raise JobError(f"{folder} is being trained by another command (pid {holder}); "
                               "wait for it to finish") from None
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
    else:
        raise JobError(f"{folder}: could not take its lock {lock}")
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield folder
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def release_if_unused(folder):
    """Remove a folder this command claimed if it holds nothing but the claim."""
    folder = Path(folder)
    with contextlib.suppress(OSError):
        if {p.name for p in folder.iterdir()} <= {CLAIM}:
            (folder / CLAIM).unlink(missing_ok=True)
            folder.rmdir()
