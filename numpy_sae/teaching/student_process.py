"""The process that runs a student's code for the grader, and the values it hands back.

    python -I student_process.py

The grader (:mod:`numpy_sae.teaching.remote`) starts this file as a script: it imports
nothing of numpy_sae, so the student's code finds no grader, no reference answer and no
library function in its process to replace or borrow. The grader sends requests on this
process's stdin and reads the replies on its stdout, one message each:

    8 bytes  the length of the rest (big-endian)
    4 bytes  the length of the header
    header   JSON: the request or reply; arrays in it are {"$a": i}, the i-th blob
    blobs    the arrays' bytes (C order); the header gives each one's dtype and shape

Requests: ``{"op": "load", "path": P}`` imports the student's file (its folder appended
to the import path, last, so it shadows no standard or installed module) and describes
the names it defines; ``{"op": "call", "name": F, "args": [...], "kwargs": {...},
"library": [...], "release": [...]}`` calls F on the values given and replies with its
result, the arguments as they are after the call (a function may change them in place),
and what it printed; while it runs, each function named in "library" calls back to the
grader, which computes it and replies. A value that is not a number, a string, an array
or a tuple, list or dict of them stays here and goes back and forth as a reference
``{"$r": i}`` (a cache of the student's own kind); "release" drops references the grader
no longer holds.

Both sides use :func:`encode` and :func:`decode`. Whatever this process sends is only
data for the grader: it decodes arrays with ``allow_pickle=False`` and decides every
grade itself, from values it computed.
"""

import contextlib
import importlib.util
import io
import inspect
import json
import math
import os
import select
import struct
import sys
import time
import traceback

import numpy as np

MAX_MESSAGE = 1 << 30  # bytes; a longer message is refused, not read
PRINTED_LIMIT = 20000  # characters of one call's printed output kept
THIS_FILE = os.path.abspath(__file__)
PACKAGE = os.path.dirname(os.path.dirname(THIS_FILE))  # numpy_sae/
# The file name of the library's functions the grader sends as source text, for the checks
# in which the student's functions are the library's (the whole network's).
LIBRARY_FILE = "<the library's functions, sent by the grader>"


# --- The message format (both sides) ---------------------------------------------------

def message_bytes(header, blobs=()):
    """One message: a JSON header and the blobs (bytes) it refers to."""
    head = json.dumps({**header, "blobs": [len(b) for b in blobs]}).encode("utf-8")
    return b"".join([struct.pack(">QI", 4 + len(head) + sum(map(len, blobs)), len(head)),
                     head, *blobs])


def write_message(stream, header, blobs=()):
    """Send one message (:func:`message_bytes`) on ``stream``."""
    stream.write(message_bytes(header, blobs))
    stream.flush()


def _read_exactly(stream, size):
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("the other process closed its end")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


SPIN = 0.0005  # seconds a reader polls before it sleeps: a sleeping process wakes slowly


class Poll:
    """How long a reader polls its pipe before it sleeps, learnt from how polls end.

    Polling saves the other process's message the wake-up of a sleeping reader (a round
    trip on a virtual machine takes about 100 us when the reader sleeps at once, 30 us
    when it polls), but only when both processes run at once: on one CPU, or a busy
    machine, the poll takes the CPU from the process it waits for. So it polls while
    most polls catch the message, and otherwise only every 32nd wait, to see whether
    that has changed. ``limit``: the longest poll, in seconds (0: never poll).
    """

    def __init__(self, limit=SPIN):
        self.limit, self.caught, self.waits = limit, 1.0, 0

    def seconds(self):
        self.waits += 1
        if self.limit > 0 and (self.caught >= 0.5 or self.waits % 32 == 0):
            return self.limit
        return 0.0

    def ended(self, caught):
        """A poll ended: with the message (True; one such poll is enough to poll again)
        or in sleep (False)."""
        self.caught = max(0.5, 0.8 * self.caught + 0.2) if caught else 0.8 * self.caught


def reader(fd, deadline=None, poll=None):
    """``read(size)`` for :func:`read_message`: exactly ``size`` bytes of the pipe ``fd``,
    polled before each wait as ``poll`` (a :class:`Poll`) says; TimeoutError when
    ``deadline`` (time.monotonic()) passes first, EOFError when the pipe ends."""
    poll = Poll(0.0) if poll is None else poll

    def read(size):
        chunks = []
        while size:
            if not select.select([fd], [], [], 0)[0]:
                window = poll.seconds()
                poll_end = time.monotonic() + window
                while not select.select([fd], [], [], 0)[0]:
                    if time.monotonic() > poll_end:
                        if window:
                            poll.ended(False)
                        wait = None if deadline is None else max(deadline - time.monotonic(),
                                                                 0)
                        if not select.select([fd], [], [], wait)[0]:
                            raise TimeoutError
                        break
                else:
                    poll.ended(True)
            chunk = os.read(fd, min(size, 1 << 20))
            if not chunk:
                raise EOFError("the other process closed its end")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)
    return read


def read_message(stream, read=None):
    """(header, blobs) of the next message; EOFError when the stream ends, ValueError
    when it does not hold a message. ``read(size)``, when given, reads exactly ``size``
    bytes instead of ``stream`` (the grader's reads have a time limit)."""
    read = read or (lambda size: _read_exactly(stream, size))
    total, head_size = struct.unpack(">QI", read(12))
    if total > MAX_MESSAGE or head_size > total - 4:
        raise ValueError(f"a message of {total} bytes (at most {MAX_MESSAGE})")
    body = read(total - 4)
    header = json.loads(body[:head_size].decode("utf-8"))
    sizes = header.get("blobs") if isinstance(header, dict) else None
    if not isinstance(sizes, list) or not all(isinstance(s, int) and s >= 0 for s in sizes) \
            or sum(sizes) != total - 4 - head_size:
        raise ValueError("a message whose blobs do not add up")
    blobs, start = [], head_size
    for size in sizes:
        blobs.append(body[start:start + size])
        start += size
    return header, blobs


def encode(value, blobs, keep=None):
    """``value`` as JSON, its arrays appended to ``blobs`` (.npy bytes). ``keep(value)``
    returns the reference id of a value of any other kind; without it such a value is a
    TypeError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, np.generic):
        return int(value) if isinstance(value, int) else float(value)
    if isinstance(value, (np.ndarray, np.generic)) and np.asarray(value).dtype.kind in "biufc":
        array = np.asarray(value)
        blobs.append(array.tobytes())
        return {"$a" if isinstance(value, np.ndarray) else "$s":
                [len(blobs) - 1, array.dtype.str, list(array.shape)]}
    if isinstance(value, tuple):
        return {"$t": [encode(v, blobs, keep) for v in value]}
    if isinstance(value, list):
        return [encode(v, blobs, keep) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"$d": [[k, encode(v, blobs, keep)] for k, v in value.items()]}
    if value is Unchanged:
        return UNCHANGED
    if keep is None:
        raise TypeError(f"a value of type {type(value).__name__} cannot be sent")
    return {"$r": keep(value)}


class Unchanged:
    """Stands for an argument a call left as it was (sent as UNCHANGED)."""


UNCHANGED = {"$u": 0}  # an argument the call left as it was: nothing to send back


def decode(data, blobs, reference=None, depth=0, sent=None):
    """The value :func:`encode` wrote; ``reference(i)`` gives the value of reference i;
    ``sent``, a dict, gets each array's bytes as they came (see :func:`changed`); the
    marker UNCHANGED decodes to None. ValueError for anything else (a message this format
    does not describe)."""
    if depth > 100:
        raise ValueError("values nested more than 100 deep")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, blobs, reference, depth + 1, sent) for v in data]
    if isinstance(data, dict) and len(data) == 1:
        (kind, item), = data.items()
        if kind in ("$a", "$s"):
            value = _array(item, blobs, scalar=kind == "$s")
            if sent is not None and kind == "$a":
                sent[id(value)] = (value, blobs[item[0]])
            return value
        if kind == "$t" and isinstance(item, list):
            return tuple(decode(v, blobs, reference, depth + 1, sent) for v in item)
        if kind == "$d" and isinstance(item, list) and all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) for p in item):
            return {k: decode(v, blobs, reference, depth + 1, sent) for k, v in item}
        if kind == "$r" and isinstance(item, int) and reference is not None:
            return reference(item)
        if data == UNCHANGED:
            return None
    raise ValueError(f"a value this format does not describe: {str(data)[:80]}")


def changed(value, sent):
    """Whether a call changed an argument decoded with ``sent``: an array's bytes, or an
    array that was not sent (put into a list or dict by the call)."""
    if isinstance(value, np.ndarray):
        original = sent.get(id(value))
        return original is None or original[0] is not value or \
            value.tobytes() != original[1]
    if isinstance(value, (tuple, list)):
        return any(changed(v, sent) for v in value)
    if isinstance(value, dict):
        return any(changed(v, sent) for v in value.values())
    return False


_DTYPES = {d.str: d for d in map(np.dtype, ("f8", "f4", "i8", "i4", "b1", "u1"))}


def _array(item, blobs, scalar):
    """The array (or NumPy scalar) [blob, dtype, shape] describes."""
    if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], int)
            and 0 <= item[0] < len(blobs) and isinstance(item[1], str)
            and isinstance(item[2], list) and all(isinstance(n, int) and n >= 0
                                                  for n in item[2])):
        raise ValueError(f"an array this format does not describe: {str(item)[:80]}")
    try:
        dtype = _DTYPES.get(item[1]) or np.dtype(item[1])
    except TypeError:
        raise ValueError(f"an array of dtype {item[1][:20]!r}") from None
    if dtype.kind not in "biufc":
        raise ValueError(f"an array of dtype {dtype}")
    blob = blobs[item[0]]
    if len(blob) != dtype.itemsize * math.prod(item[2]):
        raise ValueError("an array whose bytes do not match its shape")
    array = np.frombuffer(bytearray(blob), dtype=dtype).reshape(item[2])
    return array[()] if scalar else array


def exception_info(exc):
    """What the grader needs to name an error: its type, the nearest built-in exception
    class it derives from, its message, the traceback's frames, and for a SyntaxError
    its file and line."""
    builtin = next((c.__name__ for c in type(exc).__mro__
                    if c.__module__ == "builtins" and issubclass(c, Exception)), None)
    try:
        message = str(exc)
    except Exception as inner:
        message = f"(its message could not be shown: {type(inner).__name__})"
    frames = [[f.filename, f.lineno, f.name] for f in traceback.extract_tb(exc.__traceback__)]
    syntax = None
    if isinstance(exc, SyntaxError):
        syntax = [exc.filename, exc.lineno, exc.msg]
    return {"type": type(exc).__name__, "builtin": builtin, "message": message,
            "frames": frames, "syntax": syntax}


# --- This process -----------------------------------------------------------------------

class _Server:
    """The student's module and the values of the student's own kinds the grader holds."""

    def __init__(self, requests, replies):
        self.requests, self.replies = requests, replies
        # How long to poll for the next request: at most the grader's "spin" (none while
        # it trains, where the polling would take a core from its BLAS threads).
        self.poll = Poll()
        self.read = reader(requests.fileno(), poll=self.poll) if os.name == "posix" else None
        self.module, self.kept, self.ids, self.next_id = None, {}, {}, 0
        self.modules_seen, self.loaded, self.ran_library = 0, False, False
        # The library's functions (their names: the functions) once the grader sent them,
        # and whether the call running may use them.
        self.library_functions, self.library_allowed = {}, False
        self.pid = os.getpid()

    def keep(self, value):
        key = id(value)
        if key not in self.ids:
            self.next_id += 1
            self.ids[key] = self.next_id
            self.kept[self.next_id] = value
        return self.ids[key]

    def kept_value(self, number):
        if number not in self.kept:
            raise ValueError(f"no value is kept under the reference {number}")
        return self.kept[number]

    def release(self, numbers):
        for number in numbers:
            value = self.kept.pop(number, None)
            if value is not None:
                self.ids.pop(id(value), None)

    def reply(self, header, values=None):
        blobs = []
        if values is not None:
            header = {**header, "values": encode(values, blobs, self.keep)}
        write_message(self.replies, header, blobs)

    def load(self, path):
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in sys.path:
            sys.path.append(folder)
        spec = importlib.util.spec_from_file_location("student_backprop", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules["student_backprop"] = module
        with self.watching():
            spec.loader.exec_module(module)
        self.module = module
        return {name: describe(value) for name, value in vars(module).items()
                if not name.startswith("__")}

    def define_library(self, source):
        """The library's functions from their source text (NumPy only), in a namespace
        of their own: they stand for the student's within the checks of the whole network,
        without a round trip to the grader per call. Outside those checks, a call of one
        is a call of numpy_sae's code (:meth:`watching`)."""
        namespace = {"__name__": "library_functions"}
        try:
            exec(compile(source, LIBRARY_FILE, "exec"), namespace)
        except Exception:  # never the student's doing: the call-backs stand in instead
            return
        self.library_functions = {name: value for name, value in namespace.items()
                                  if callable(value) and not name.startswith("__")}

    def callback(self, name):
        """A stand-in for a library function: the grader computes it."""
        def library(*args, **kwargs):
            blobs = []
            write_message(self.replies, {"callback": name, "values": encode(
                [list(args), kwargs], blobs, self.keep)}, blobs)
            header, blobs = read_message(self.requests, self.read)
            if "error" in header:
                raise RuntimeError(f"{name} failed in the grader: {header['error']}")
            return decode(header["values"], blobs, self.kept_value)
        library.__name__ = name
        return library

    def look_for_numpy_sae(self):
        """Whether numpy_sae has been loaded here (a look only when modules were added) or
        code of its files has run (:meth:`watching`)."""
        if len(sys.modules) != self.modules_seen:
            self.modules_seen = len(sys.modules)
            self.loaded = self.loaded or numpy_sae_loaded()
        return self.loaded

    @contextlib.contextmanager
    def watching(self):
        """Within the block, note whether a function of numpy_sae's files is called, by
        whatever route its module was loaded (sys.setprofile: this thread only)."""
        def watch(frame, event, arg):
            if event != "call":
                return
            file = frame.f_code.co_filename
            if (file.startswith(PACKAGE + os.sep) and file != THIS_FILE) or \
                    (file == LIBRARY_FILE and not self.library_allowed):
                self.ran_library = True
        sys.setprofile(watch)
        try:
            yield
        finally:
            sys.setprofile(None)

    def call(self, header, blobs):
        sent = {}
        try:
            args, kwargs = decode(header["values"], blobs, self.kept_value, sent=sent)
            function = getattr(self.module, header["name"])
        except Exception as exc:  # a name the file no longer binds, most often
            return {"error": exception_info(exc), "printed": "", "numpy_sae": False}, None
        already, self.ran_library = self.look_for_numpy_sae(), False
        if isinstance(header.get("library_source"), str):
            self.define_library(header["library_source"])
        library = {name: self.library_functions.get(name) or self.callback(name)
                   for name in header.get("library", [])}
        self.library_allowed = bool(library)
        saved = {name: vars(self.module)[name] for name in library if name in vars(self.module)}
        printed = io.StringIO()
        try:
            vars(self.module).update(library)
            with contextlib.redirect_stdout(printed), self.watching():
                try:
                    result = function(*args, **kwargs)
                    outcome = {"ok": True}
                except BaseException as exc:  # the student's code may fail any way
                    result, outcome = None, {"error": exception_info(exc)}
        finally:
            for name in library:
                vars(self.module).pop(name, None)
            vars(self.module).update(saved)
        text = printed.getvalue()
        if len(text) > PRINTED_LIMIT:
            text = text[:PRINTED_LIMIT] + "\n..."
        # numpy_sae's code ran, or was loaded, while the student's function ran.
        loaded = self.ran_library or self.look_for_numpy_sae() and not already
        after = [arg if changed(arg, sent) else Unchanged for arg in args]
        return {**outcome, "printed": text, "numpy_sae": loaded}, [result, after]

    def serve(self):
        me = self.pid
        while True:
            try:
                header, blobs = read_message(self.requests, self.read)
            except EOFError:
                return
            self.release(header.get("release", []))
            spin = header.get("spin", SPIN)
            self.poll.limit = spin if isinstance(spin, (int, float)) and 0 <= spin <= 0.01 \
                else SPIN
            self.handle(header, blobs)
            if os.getpid() != me:
                os._exit(0)  # a copy the student's code forked: the grader talks to one

    def handle(self, header, blobs):
        if header.get("op") == "load":
            try:
                names = self.load(header["path"])
                reply = {"ok": True, "names": names,
                         "numpy_sae": self.look_for_numpy_sae() or self.ran_library}
            except BaseException as exc:  # SystemExit too: the file must import
                reply = {"error": exception_info(exc)}
            if os.getpid() == self.pid:
                self.reply(reply)
        elif header.get("op") == "call":
            reply, values = self.call(header, blobs)
            if os.getpid() != self.pid:
                return
            try:
                self.reply(reply, values)
            except (TypeError, ValueError) as exc:
                self.reply({"error": {"type": "TypeError", "builtin": "TypeError",
                                      "message": f"its result cannot be graded: {exc}",
                                      "frames": [], "syntax": None},
                            "printed": reply["printed"], "numpy_sae": reply["numpy_sae"]})


def describe(value):
    """What the grader needs to know of a name the student's file defines."""
    code = getattr(value, "__code__", None)
    try:
        parameters = [[p.name, p.kind.name, p.default is not p.empty]
                      for p in inspect.signature(value).parameters.values()]
    except (TypeError, ValueError):
        parameters = None
    module = getattr(value, "__module__", None)
    return {"callable": callable(value), "parameters": parameters,
            "file": getattr(code, "co_filename", None), "line": getattr(code, "co_firstlineno", None),
            "module": module if isinstance(module, str) else None,
            "kind": type(value).__name__}


def numpy_sae_loaded():
    """Whether any module of numpy_sae is loaded here, under its name or another."""
    for name, module in list(sys.modules.items()):
        if name == "numpy_sae" or name.startswith("numpy_sae."):
            return True
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and os.path.abspath(path).startswith(PACKAGE + os.sep) \
                and os.path.abspath(path) != THIS_FILE:  # not this script
            return True
    return False


def _limit_memory(megabytes):
    """Cap this process's address space (POSIX), so a student function that allocates
    without end fails with a MemoryError, graded as such."""
    if megabytes > 0:
        try:
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (megabytes << 20, megabytes << 20))
        except (ImportError, ValueError, OSError):
            pass  # Windows, or a limit the system refuses: grade without one


def main():
    # The messages go on private copies of stdin and stdout; what the student's code
    # writes to the real ones (os.write(1, ...), a C library) goes to stderr's file.
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    sys.stdin = open(os.devnull, encoding="utf-8")
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb"), encoding="utf-8", errors="replace")
    import faulthandler
    import signal
    if hasattr(signal, "SIGUSR1"):
        # The grader asks for the stack before it ends a function that ran too long.
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=False)
    _limit_memory(int(os.environ.get("NUMPY_SAE_GRADER_MEMORY_MB", "0") or 0))
    write_message(replies, {"ready": True})
    _Server(requests, replies).serve()


if __name__ == "__main__":
    main()
