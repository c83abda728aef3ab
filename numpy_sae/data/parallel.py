"""Work spread over the machine's cores, started the same way on every system.

Worker processes always start with *spawn* (a fresh interpreter that imports
what it needs), the only start method Windows has and macOS's default, even
where Linux would fork. A program that works here then works there too: the
work function must be importable by name, and a script that reaches this code
needs an ``if __name__ == "__main__":`` guard, which tests catch on Linux.
"""

import contextlib
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor


def _worker_start(parent):
    # Ctrl-C reaches every process of the terminal's group: the workers leave it to the
    # parent, which stops the pool cleanly (no worker dies mid-task holding a semaphore).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright (SIGKILL, a crash) cannot stop its workers: each one
    # watches for it and ends itself once its parent is gone.
    threading.Thread(target=_end_with, args=(parent,), daemon=True).start()


def _end_with(parent):
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """Within the block, SIGTERM (a closed terminal, a job scheduler) acts like Ctrl-C, so
    a pool is stopped and its workers ended, or a run saves its state.

    Only the main thread may install handlers, and a handler someone else set
    stays; elsewhere the block changes nothing.
    """
    previous = None
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL):
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def map_in_workers(work, items, workers, chunksize=8, progress=None):
    """``[work(item) for item in items]``, in ``workers`` spawned processes when workers > 1.

    work : a picklable callable (a module-level function, or a functools.partial of one)
    items : list of picklable arguments
    progress : callable(done, total) or None, called as each result arrives
    """
    def collected(results):
        done = []
        for result in results:
            done.append(result)
            if progress is not None:
                progress(len(done), len(items))
        return done

    if workers <= 1 or len(items) <= 1:
        return collected(work(item) for item in items)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_start, initargs=(os.getpid(),))
    try:
        with sigterm_as_interrupt():
            return collected(pool.map(work, items, chunksize=chunksize))
    except BaseException:
        # Ctrl-C or SIGTERM: no chunk is started any more, and the running ones are ended
        # (a worker's result would be thrown away; its files are written atomically).
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)


def progress_lines(what, unit, log):
    """A ``progress(done, total)`` callable that logs a line such as "reading: 120 of 400
    files (30%), about 25 s left" at every tenth of the work, and one at the end; None
    when ``log`` is None (nothing to report to)."""
    if log is None:
        return None
    began = time.perf_counter()
    shown = [0]

    def progress(done, total):
        tenth = 10 * done // total
        if done < total and tenth <= shown[0]:
            return
        shown[0] = tenth
        elapsed = time.perf_counter() - began
        log(f"{what}: {done} of {total} {unit} ({100 * done // total}%)"
            + (f", about {format_seconds(elapsed / done * (total - done))} left"
               if done < total else f" in {format_seconds(elapsed)}"))
    return progress


def format_seconds(seconds):
    """A duration as people read it: "45 s", "3 min 20 s", "1 h 05 min"."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
