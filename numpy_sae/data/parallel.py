"""Work spread over the machine's cores, started the same way on every system.

Worker processes always start with *spawn* (a fresh interpreter that imports
what it needs), the only start method Windows has and macOS's default, even
where Linux would fork. A program that works here then works there too: the
work function must be importable by name, and a script that reaches this code
needs an ``if __name__ == "__main__":`` guard, which tests catch on Linux.
"""

import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor


def _ignore_interrupts():
    # Ctrl-C reaches every process of the terminal's group: the workers leave it to the
    # parent, which stops the pool cleanly (no worker dies mid-task holding a semaphore).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def map_in_workers(work, items, workers, chunksize=8):
    """``[work(item) for item in items]``, in ``workers`` spawned processes when workers > 1.

    work : a picklable callable (a module-level function, or a functools.partial of one)
    items : list of picklable arguments
    """
    if workers <= 1 or len(items) <= 1:
        return [work(item) for item in items]
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_ignore_interrupts)
    try:
        return list(pool.map(work, items, chunksize=chunksize))
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # the chunks running finish, no more
        raise
    finally:
        pool.shutdown(wait=True)
