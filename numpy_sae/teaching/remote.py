"""A student's file seen from the grader: a module whose functions run in another process.

:class:`RemoteStudent` starts :mod:`numpy_sae.teaching.student_process` as a script,
has it import the student's file, and offers the graded functions as attributes: calling
one sends the arguments to that process, which calls the student's function and hands
back its result, the arguments as they are after the call (an in-place change is copied
back into the caller's arrays, as if the function had run here) and what it printed. The
grader (:func:`numpy_sae.teaching.exercises.grade`, and training with the student's
functions) runs in this process on these values: the student's code never sees the
reference answers, the comparisons or the scores, and whatever it replaces (NumPy's
functions, the grader's) is replaced only in its own process.

Where this process runs as root (Gradescope), the student's process runs as the user
``nobody`` in a folder of its own, with copies of the student's Python files; where that
cannot be done, :attr:`RemoteStudent.isolation` says why.

Errors come back as exceptions: :class:`StudentError` (of the built-in class the
student's exception derives from, so a NotImplementedError is one) for an exception in
the student's code, :class:`GradingLost` when its process ended or ran past its time.
"""

import builtins
import contextlib
import inspect
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import weakref
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from . import student_process
from .student_process import decode, encode, message_bytes, read_message, reader

STARTUP_LIMIT = 120.0  # seconds the process may take to start (Python and NumPy)
UNPRIVILEGED_USER = "nobody"


# MB of address space the student's process may use by default: inside Gradescope's
# 768 MB container with the grader's own process beside it.
MEMORY_LIMIT_MB = 512

class StudentError(Exception):
    """An exception raised by the student's code in its own process.

    type_name : its class's name; message : its text; frames : [(file, line, function)]
    of its traceback, innermost last."""

    def __init__(self, type_name, message, frames, syntax=None):
        super().__init__(message)
        self.type_name, self.message, self.frames, self.syntax = \
            type_name, message, frames, syntax

    def __str__(self):
        return self.message


class GradingLost(Exception):
    """The student's process ended, or was ended at its time limit, before it replied.

    reason : why, in words; frames : where the student's code was (a time-out's stack,
    innermost last), or []."""

    def __init__(self, reason, frames=(), timed_out=False, returncode=None):
        super().__init__(reason)
        self.reason, self.frames = reason, list(frames)
        self.timed_out, self.returncode = timed_out, returncode


# Built-in exception classes a StudentError may also be, so the grader's own handlers
# (a NotImplementedError is "not started") see the student's exception as its kind.
_NOT_RAISED_HERE = {"StopIteration", "StopAsyncIteration", "GeneratorExit"}
_KINDS = {}


def student_error(info):
    """The StudentError for the exception ``info`` of the student's process."""
    base = getattr(builtins, str(info.get("builtin")), None)
    if not (isinstance(base, type) and issubclass(base, Exception)) or \
            base.__name__ in _NOT_RAISED_HERE:
        base = Exception
    if base not in _KINDS:
        _KINDS[base] = StudentError if base is Exception else \
            type(f"Student{base.__name__}", (StudentError, base), {})
    frames = [(str(f[0]), int(f[1]), str(f[2])) for f in info.get("frames", [])
              if isinstance(f, list) and len(f) == 3 and isinstance(f[1], int)]
    syntax = info.get("syntax")
    if not (isinstance(syntax, list) and len(syntax) == 3):
        syntax = None
    return _KINDS[base](str(info.get("type", "Exception")), str(info.get("message", "")),
                        frames, syntax)


def how_it_ended(returncode):
    """Why a student's process ended before it replied, from its exit status."""
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        if -returncode == getattr(signal, "SIGKILL", 9):
            return (f"the grading process was killed ({name}): out of memory? (the system "
                    "ends the largest process when memory runs out)")
        return f"the grading process was ended by {name}"
    return (f"your code ended the grading process (exit status {returncode}: sys.exit or "
            "os._exit?)")


def stack_frames(text):
    """[(file, line, function)] of a stack faulthandler wrote (innermost first there),
    innermost last, as a traceback lists them."""
    return [(m.group(1), int(m.group(2)), m.group(3))
            for m in re.finditer(r'File "(.+)", line (\d+) in (\S+)', text)][::-1]


def unprivileged_user():
    """(uid, gid, None) of the user the student's code runs as when the grader is root,
    or (None, None, why not)."""
    if os.name != "posix" or os.geteuid() != 0:
        return None, None, ("the grader does not run as root, so the student's code runs "
                            "as the grader's own user")
    try:
        import pwd
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
    except (ImportError, KeyError):
        return None, None, f"there is no user {UNPRIVILEGED_USER!r} to run the student's code as"
    return entry.pw_uid, entry.pw_gid, None


class _Remote:
    """A value of the student's own kind, kept in the student's process."""

    def __init__(self, number, owner):
        self.number, self._owner, self._process = number, weakref.ref(owner), owner.process

    def __del__(self):
        owner = self._owner()
        if owner is not None and owner.process is self._process:
            owner.released.append(self.number)

    def __repr__(self):
        return f"<a value kept by the student's process ({self.number})>"


class _NotCallable:
    """Stands for a name the student's file binds to something that is not a function."""

    def __init__(self, kind):
        self.kind = kind


def _widen_pipes(*pipes, size=1 << 20):
    """Linux: pipes of ``size`` bytes (64 kB by default), so that a request with a layer's
    weights is written at once, not in pieces each waiting for the other process to read."""
    setpipe = getattr(fcntl, "F_SETPIPE_SZ", 1031) if fcntl is not None else None
    if setpipe is None or not sys.platform.startswith("linux"):
        return
    for pipe in pipes:
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe.fileno(), setpipe, size)


class StudentProcess:
    """The running student process: requests, replies and the library's call-backs."""

    def __init__(self, memory_limit_mb, folder, user=(None, None)):
        self.stack_file = open(Path(folder) / "stack.txt", "w+b")
        uid, gid = user
        env = {**os.environ, "NUMPY_SAE_GRADER_MEMORY_MB": str(int(memory_limit_mb)),
               # At most two BLAS threads: each thread's buffers take address space,
               # which the memory limit counts (a many-core machine would not start
               # NumPy under it); two train as fast as more on the key's small arrays.
               "OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
        drop = {}
        if uid is not None:
            drop = {"user": uid, "group": gid, "extra_groups": []}
            env["HOME"] = str(folder)
        self.child = subprocess.Popen(
            [sys.executable, "-I", str(Path(student_process.__file__).resolve())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stack_file, bufsize=0,
            cwd=folder, env=env, **drop,
            # Its own process group, so whatever it forks is ended with it.
            **({"start_new_session": True} if os.name == "posix" else {}))
        self.files = (None, None)  # (the student's file as this process sees it, its original)
        _widen_pipes(self.child.stdin, self.child.stdout)
        self.replies = None
        if os.name != "posix":
            # Windows cannot wait on a pipe with a time-out: a thread reads the replies.
            self.replies = queue.Queue()
            threading.Thread(target=self._read, daemon=True).start()
        self.lost = None

    def _read(self):
        while True:
            try:
                self.replies.put(read_message(self.child.stdout))
            except (EOFError, OSError, ValueError, UnicodeDecodeError) as exc:
                self.replies.put(exc)
                return

    def send(self, header, values=None, keep=None, deadline=None):
        """Send a request; a process that stops reading is given until ``deadline``."""
        blobs = []
        if values is not None:
            header = {**header, "values": encode(values, blobs, keep)}
        data = memoryview(message_bytes(header, blobs))
        fd = self.child.stdin.fileno()
        deadline = time.monotonic() + STARTUP_LIMIT if deadline is None else deadline
        try:
            while data:
                if os.name == "posix" and not select.select(
                        [], [fd], [], max(deadline - time.monotonic(), 0.0))[1]:
                    return  # it does not read: the reply's wait ends it at the deadline
                data = data[os.write(fd, data[:1 << 20]):]
        except OSError:
            pass  # it has ended: the reply's read says how

    def receive(self, deadline, limit, poll=None):
        """The next message, or GradingLost when the process ends or ``deadline``
        (time.monotonic()) passes (``limit``: the seconds named in the reason)."""
        if self.lost is not None:
            raise self.lost
        try:
            message = self._next(max(deadline - time.monotonic(), 0.0), poll)
        except queue.Empty:
            frames = self._stack()
            self.end()
            self.lost = GradingLost(f"ran longer than {limit:g} s (an endless loop?)", frames,
                                    timed_out=True)
            raise self.lost from None
        if isinstance(message, Exception):
            self.end()
            if isinstance(message, EOFError):
                self.lost = GradingLost(how_it_ended(self.child.returncode),
                                        returncode=self.child.returncode)
            else:
                self.lost = GradingLost(f"the grading process sent what is not a reply "
                                        f"({type(message).__name__}: {message})")
            raise self.lost
        return message

    def _next(self, timeout, poll=None):
        """The next message, an exception that ended the reading, or queue.Empty."""
        if self.replies is not None:
            return self.replies.get(timeout=timeout)
        try:
            return read_message(None, reader(self.child.stdout.fileno(),
                                             time.monotonic() + timeout, poll))
        except TimeoutError:
            raise queue.Empty from None  # a reply cut in the middle times out too
        except (EOFError, OSError, ValueError, UnicodeDecodeError) as exc:
            return exc

    def _stack(self):
        """Where the student's code is now: faulthandler writes the stack on SIGUSR1."""
        if not hasattr(signal, "SIGUSR1") or self.child.poll() is not None:
            return []
        before = self.stack_file.seek(0, os.SEEK_END)
        with contextlib.suppress(OSError):
            os.kill(self.child.pid, signal.SIGUSR1)
        # faulthandler writes at once, from its signal handler: wait until the file
        # stops growing (at most half a second).
        size, steady = before, 0
        for _ in range(100):
            time.sleep(0.005)
            now = self.stack_file.seek(0, os.SEEK_END)
            steady = steady + 1 if now == size and now > before else 0
            size = now
            if steady >= 3 or self.child.poll() is not None:
                break
        frames = stack_frames(self._tail(before).decode("utf-8", "replace"))
        # The student's copy, as the student's process saw it, named as the original.
        seen, original = self.files
        return [(original if os.path.abspath(f) == os.path.abspath(seen) else f, line, name)
                for f, line, name in frames]

    def _tail(self, start):
        self.stack_file.seek(start)
        return self.stack_file.read()

    def end(self):
        """End the process and every process it started (its process group on POSIX)."""
        if os.name == "posix":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.child.pid, signal.SIGKILL)
        if self.child.poll() is None:
            self.child.kill()
        self.child.wait()
        for stream in (self.child.stdin, self.child.stdout):
            with contextlib.suppress(OSError):
                stream.close()

    def close(self):
        self.end()
        self.stack_file.close()


class RemoteStudent:
    """The student's file at ``path``, its functions running in a process of their own.

    Functions the file defines are attributes (with the signature the student wrote);
    ``is_stub`` on one says whether its body is still ``raise NotImplementedError``.
    :meth:`begin_unit` starts each unit of grading with its time limit (and a fresh
    process, when the last one was lost); ``library_inside(names)`` makes the student's
    functions call the library's versions of ``names`` within the block.

    path : the .py file to grade (a notebook's program, with its cell map beside it)
    memory_limit : MB of address space the student's process may use (POSIX)
    time_limit : seconds each unit may take, and the import of the file
    """

    def __init__(self, path, memory_limit=MEMORY_LIMIT_MB, time_limit=20.0, graded=()):
        self.__file__ = str(Path(path).resolve())
        self.memory_limit, self.time_limit = memory_limit, time_limit
        self.graded = tuple(graded)
        self.limit, self.deadline = time_limit, None
        # This process's polls for the replies; its limit is also the student's process's.
        self.poll = student_process.Poll()
        self.library, self.released, self.numpy_sae_calls = (), [], set()
        self.numpy_sae_at_import, self.names, self.process = False, {}, None
        self._folder = tempfile.TemporaryDirectory(prefix="numpy_sae_student_")
        uid, gid, why = unprivileged_user()
        self.isolation = why or f"the student's code ran as the user {UNPRIVILEGED_USER!r}"
        self._user = (uid, gid)
        self._child_file = self._place_files(uid)
        self._functions = {}
        self._registry = weakref.WeakValueDictionary()

    def _place_files(self, uid):
        """The student's file as the student's process sees it: in place, or as the
        unprivileged user copies of the Python files of its folder (that user may not
        read the original's folder), in a folder it may read and write."""
        work = Path(self._folder.name) / "work"
        work.mkdir()
        if uid is None:
            return self.__file__
        Path(self._folder.name).chmod(0o755)
        source = Path(self.__file__).parent
        copy = Path(self._folder.name) / "submission"
        copy.mkdir(mode=0o755)
        for item in source.iterdir():
            if item.suffix in (".py", ".json") and item.is_file() and not item.is_symlink() \
                    or item.is_dir() and (item / "__init__.py").is_file():
                target = copy / item.name
                if item.is_dir():
                    shutil.copytree(item, target, ignore=shutil.ignore_patterns("__pycache__"),
                                    symlinks=False)
                else:
                    shutil.copyfile(item, target)
        for root, folders, files in os.walk(copy):
            for name in folders:
                os.chmod(os.path.join(root, name), 0o755)
            for name in files:
                os.chmod(os.path.join(root, name), 0o644)
        os.chown(work, uid, -1)
        return str(copy / Path(self.__file__).name)

    # --- the process ------------------------------------------------------------------

    def _launch(self, user):
        """Start the process as ``user`` and wait for its first message, sent before it
        reads any of the student's code; GradingLost (or OSError) when it does not start."""
        if self.process is not None:
            self.process.close()
        self.process = StudentProcess(self.memory_limit, Path(self._folder.name) / "work",
                                      user)
        self.process.files = (self._child_file, self.__file__)
        try:
            ready, _ = self.process.receive(time.monotonic() + STARTUP_LIMIT, STARTUP_LIMIT)
        except GradingLost as lost:
            # Before reading the student's file, so no student's doing: what it said is
            # the reason (a library the loader cannot open, a Python error).
            said = [line.strip() for line in self.process._tail(0).decode(
                "utf-8", "replace").splitlines() if line.strip()]
            ended = "" if lost.returncode is None else f"exit status {lost.returncode}"
            details = "; ".join(part for part in (ended, said[-1][:300] if said else "")
                                if part)
            raise GradingLost(f"the grading process did not start ({details or lost.reason})",
                              returncode=lost.returncode) from None
        if not ready.get("ready"):
            raise GradingLost("the grading process did not start")

    def start(self):
        """Start the process and import the student's file in it: the names it defines.
        StudentError when the import raised, GradingLost when it never finished."""
        self._registry = weakref.WeakValueDictionary()
        self.released = []
        try:
            self._launch(self._user)
        except (OSError, GradingLost) as exc:
            if self._user[0] is None:
                raise
            # The interpreter, a library it loads, or numpy_sae's own files are out of that
            # user's reach (the process ended before the student's file was read): run as
            # ours, and say so.
            why = type(exc).__name__ if isinstance(exc, OSError) else exc.reason
            self.isolation = (f"the student's code ran as the grader's own user: the user "
                              f"{UNPRIVILEGED_USER!r} cannot start {sys.executable} ({why})")
            self._user = (None, None)
            self._child_file = self.__file__
            self._launch(self._user)
        self.process.send({"op": "load", "path": self._child_file})
        try:
            header, _ = self.process.receive(time.monotonic() + self.time_limit,
                                             self.time_limit)
        except GradingLost as lost:
            if lost.timed_out:
                raise GradingLost(f"importing it ran longer than {self.time_limit:g} s (an "
                                  "endless loop at the top level?)", lost.frames,
                                  timed_out=True) from None
            if lost.returncode is not None and lost.returncode >= 0:
                raise GradingLost("the file ended the grading process while it was imported "
                                  f"(exit status {lost.returncode})",
                                  returncode=lost.returncode) from None
            raise
        if "error" in header:
            raise self._error(header["error"])
        self.numpy_sae_at_import = bool(header.get("numpy_sae"))
        names = header.get("names")
        self.names = names if isinstance(names, dict) else {}
        self._functions = {name: self._function(name, facts)
                           for name, facts in self.names.items()
                           if isinstance(facts, dict) and name in self.graded}
        return self.names

    def begin_unit(self, limit=None, poll=True):
        """Start a unit of grading: ``limit`` seconds from now (the unit time limit by
        default), in a fresh process if the last one was lost. ``poll``: whether the
        student's process polls for the next call before it sleeps (quicker calls when
        this process computes little between them; not while training, whose BLAS
        threads need the cores)."""
        if self.process is None or self.process.lost is not None:
            self.start()
        self.poll.limit = student_process.SPIN if poll else 0.0
        self.limit = self.time_limit if limit is None else limit
        self.deadline = time.monotonic() + self.limit

    def close(self):
        if self.process is not None:
            self.process.close()
        self._folder.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- the student's functions ------------------------------------------------------

    def __getattr__(self, name):
        functions = self.__dict__.get("_functions", {})
        if name in functions:
            return functions[name]
        raise AttributeError(name)

    def __dir__(self):
        return list(self._functions)

    def _function(self, name, facts):
        if not facts.get("callable"):
            return _NotCallable(str(facts.get("kind")))

        def function(*args, **kwargs):
            return self.call(name, args, kwargs)
        function.__name__ = function.__qualname__ = name
        function.__module__ = facts.get("module") or "student_backprop"
        parameters = facts.get("parameters")
        if isinstance(parameters, list):
            kinds = {kind.name: kind for kind in (
                inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.KEYWORD_ONLY,
                inspect.Parameter.VAR_KEYWORD)}
            with contextlib.suppress(TypeError, ValueError, KeyError, IndexError):
                function.__signature__ = inspect.Signature([
                    inspect.Parameter(str(p[0]), kinds[str(p[1])],
                                      **({"default": None} if p[2] else {}))
                    for p in parameters])
        else:
            function.__signature__ = "unknown"  # inspect.signature raises: not a function
        function.defined_at = (facts.get("file"), facts.get("line"))
        return function

    def defined_in_file(self, name):
        """The line the student's function ``name`` starts at in the student's file, or
        None (defined elsewhere: a helper module, or built by other means)."""
        function = self._functions.get(name)
        file, line = getattr(function, "defined_at", (None, None))
        if isinstance(line, int) and file is not None and \
                os.path.abspath(str(file)) == os.path.abspath(self._child_file):
            return line
        return None

    @contextlib.contextmanager
    def library_inside(self, names):
        """Within the block the student's functions call the library's ``names``."""
        self.library = tuple(names)
        try:
            yield
        finally:
            self.library = ()

    def _keep(self, value):
        if isinstance(value, _Remote):
            return value.number
        raise TypeError(f"a value of type {type(value).__name__} cannot be sent to the "
                        "student's code")

    def _reference(self, number):
        value = self._registry.get(number)
        if value is None:
            value = _Remote(number, self)
            self._registry[number] = value
        return value

    def _error(self, info):
        error = student_error(info if isinstance(info, dict) else {})
        mapped = []
        for file, line, function in error.frames:
            if os.path.abspath(file) == os.path.abspath(self._child_file):
                file = self.__file__
            mapped.append((file, line, function))
        error.frames = mapped
        if error.syntax and error.syntax[0] and \
                os.path.abspath(str(error.syntax[0])) == os.path.abspath(self._child_file):
            error.syntax = [self.__file__, *error.syntax[1:]]
        return error

    def call(self, name, args, kwargs):
        """Call the student's ``name`` on (copies of) the arguments in its process."""
        if self.process is None or self.deadline is None:
            self.begin_unit()
        process = self.process
        release, self.released = self.released, []
        request = {"op": "call", "name": name, "library": list(self.library),
                   "release": release, "spin": self.poll.limit}
        if self.library and getattr(process, "library_sent", None) != self.library:
            request["library_source"] = library_source(self.library)
            process.library_sent = self.library
        process.send(request, [list(args), kwargs], self._keep, self.deadline)
        while True:
            header, blobs = process.receive(self.deadline, self.limit, self.poll)
            if "callback" not in header:
                break
            self._call_library(header, blobs)
        if header.get("numpy_sae"):
            self.numpy_sae_calls.add(name)
        printed = header.get("printed")
        if isinstance(printed, str) and printed:
            sys.stdout.write(printed)
        if "values" in header:
            try:
                result, after = decode(header["values"], blobs, self._reference)
            except (ValueError, TypeError, KeyError) as exc:
                raise StudentError("ValueError", f"the grader cannot read its result: {exc}",
                                   []) from None
            for original, changed in zip(args, after if isinstance(after, list) else []):
                _write_back(original, changed)
        else:
            result = None
        if "error" in header:
            raise self._error(header["error"])
        return result

    def _call_library(self, header, blobs):
        """Compute a library function the student's code called (``library_inside``)."""
        from ..nn import functional as F
        name = header["callback"]
        try:
            if name not in self.library:
                raise ValueError(f"{name} is not a library function of this check")
            args, kwargs = decode(header["values"], blobs, self._reference)
            result = getattr(F, name)(*args, **kwargs)
            self.process.send({"ok": True}, result, self._keep, self.deadline)
        except Exception as exc:  # the student's arguments may be anything
            self.process.send({"error": f"{type(exc).__name__}: {exc}"}, None, None,
                              self.deadline)


def library_source(names):
    """The source text of the library's functions ``names`` (numpy_sae.nn.functional's, which
    use NumPy alone), for the student's process to define (student_process.LIBRARY_FILE)."""
    from ..nn import functional as F
    return "import numpy as np\n\n\n" + "\n\n".join(
        textwrap.dedent(inspect.getsource(getattr(F, name))) for name in names)


def _write_back(original, changed):
    """Copy what the student's function changed in an argument into the caller's own."""
    import numpy as np
    if isinstance(original, np.ndarray):
        if isinstance(changed, np.ndarray) and changed.shape == original.shape and \
                original.flags.writeable and \
                not np.array_equal(original, changed, equal_nan=True):
            with contextlib.suppress(TypeError, ValueError):
                np.copyto(original, changed, casting="unsafe")
    elif isinstance(original, (tuple, list)) and isinstance(changed, (tuple, list)):
        for a, b in zip(original, changed):
            _write_back(a, b)
    elif isinstance(original, dict) and isinstance(changed, dict):
        for key in original.keys() & changed.keys():
            _write_back(original[key], changed[key])
