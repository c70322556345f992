"""Data parallelism over the images of a batch (or the channels), on a few worker threads.

``parallel_over(work, n)`` runs ``work(0, n/2)`` and ``work(n/2, n)`` side by side: one
contiguous slice per core (``MINITORCH_CV_NUM_THREADS``, default the cores this process may
use), each thread running its own copies (im2col) and products back to back, in its own
cache. So BLAS is held to one thread (threadpoolctl) while library code runs, also for the
Linear layers (OpenBLAS's idle workers keep spinning on a core the next layer needs,
docs/results.md). Work on fewer than ``MIN_PARALLEL_ELEMENTS`` numbers runs in the calling
thread: waking a thread costs about a memory-bound pass over a million numbers.

Slices start at multiples of a block size set by the arrays only (``block=``), and partial
sums are added in block order: the same numbers on any number of threads. The pool is made
under a lock, and anew after ``os.fork``.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from itertools import pairwise

__all__ = ["num_threads", "parallel_over", "parallel_over_batch", "image_slices",
           "ctrl_c_as_keyboard_interrupt", "single_threaded_blas", "MIN_PARALLEL_ELEMENTS"]

MIN_PARALLEL_ELEMENTS = 1 << 21

_pool = None                       # the worker threads, made on first use (under _pool_lock)
_pool_lock = threading.Lock()
_blas = None                       # threadpoolctl's controllers of the BLAS NumPy loaded
_blas_lock = threading.Lock()      # guards the three names below
_blas_users = 0                    # how many calls, in all threads, run with BLAS limited
_blas_saved = []                   # [(set_num_threads, thread count before the first call)]
_local = threading.local()         # per thread: .blas_depth, .is_worker


def num_threads() -> int:
    """Worker threads for batch-parallel kernels (``MINITORCH_CV_NUM_THREADS`` or the cores)."""
    value = os.environ.get("MINITORCH_CV_NUM_THREADS")
    if value:
        try:
            count = int(value)
        except ValueError:
            raise ValueError(f"MINITORCH_CV_NUM_THREADS must be a positive integer, got "
                             f"{value!r}") from None
        if count < 1:
            raise ValueError(f"MINITORCH_CV_NUM_THREADS must be a positive integer, got {count}")
        return count
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:                          # not Linux
        return max(1, os.cpu_count() or 1)


def image_slices(n_images: int, parts: int):
    """Cut ``range(n_images)`` into at most ``parts`` contiguous (lo, hi) slices whose
    sizes differ by at most one."""
    parts = max(1, min(parts, n_images))
    base, extra = divmod(n_images, parts)
    bounds = [k * base + min(k, extra) for k in range(parts + 1)]
    return list(pairwise(bounds))


def _blas_setters():
    """(set_num_threads, current count) for every BLAS library NumPy loaded."""
    global _blas
    if _blas is None:
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    # threadpoolctl >= 3.8 lets only the first Python thread that set OpenBLAS's limit set
    # it again; this module serializes its own changes, so it sets the limit directly.
    return [(getattr(lib, "_real_set_num_threads", lib.set_num_threads), lib.num_threads)
            for lib in _blas]


def _set_blas(saved, restore):
    """Set every BLAS in ``saved`` to one thread, or back to its saved count (``restore``)."""
    for set_threads, count in saved:
        if count != 1:
            set_threads(count if restore else 1)


@contextmanager
def single_threaded_blas():
    """``with single_threaded_blas(): y = a @ b`` runs the product on one BLAS thread.

    The calls of all threads share one limit: the first that enters saves the count and
    sets 1, the last that leaves puts it back.
    """
    global _blas_users, _blas_saved
    with _blas_lock:
        if _blas_users == 0:                        # the first call: save, then limit
            _blas_saved = _blas_setters()
            _set_blas(_blas_saved, restore=False)
        _blas_users += 1
    _local.blas_depth = getattr(_local, "blas_depth", 0) + 1
    try:
        yield
    finally:
        _local.blas_depth -= 1
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:                    # the last call: back as it was found
                _set_blas(_blas_saved, restore=True)
                _blas_saved = []


def _after_fork_in_child():
    """After ``os.fork`` only the forking thread exists: no pool, fresh locks, and the BLAS
    limit held only by this thread's calls."""
    global _pool, _pool_lock, _blas_lock, _blas_users, _blas_saved
    _pool = None
    _pool_lock = threading.Lock()
    _blas_lock = threading.Lock()
    _blas_users = getattr(_local, "blas_depth", 0)
    if _blas_users == 0 and _blas_saved:
        _set_blas(_blas_saved, restore=True)
        _blas_saved = []


if hasattr(os, "register_at_fork"):                 # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _worker_pool(workers: int):
    """The pool of worker threads, made (or enlarged) under a lock."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            # a smaller pool is dropped, not shut down: another thread may be submitting
            # to it; its threads end once it is garbage and idle
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minitorch_cv",
                                       initializer=setattr,            # marks its threads
                                       initargs=(_local, "is_worker", True))
        return _pool


@contextmanager
def ctrl_c_as_keyboard_interrupt():
    """Let Ctrl-C during a compiled kernel arrive as ``KeyboardInterrupt``, not as the
    ``SystemError`` numba's dispatcher reports when the signal handler raises inside it."""
    try:
        yield
    except SystemError as err:
        cause = err.__cause__ or err.__context__
        if isinstance(cause, KeyboardInterrupt):
            raise cause from None
        raise


def parallel_over(work, n_images: int, size=None, block=1, min_size=None):
    """Run ``work(lo, hi)`` on one contiguous slice of ``range(n_images)`` per thread, and
    return the results in slice order (an exception in any slice is raised here).

    Slices start at multiples of ``block``. With one block, or ``size`` (the array elements
    the work goes through) below ``min_size`` (default ``MIN_PARALLEL_ELEMENTS``, read at
    each call), ``work(0, n_images)`` runs in the calling thread with BLAS as it is;
    otherwise BLAS runs on one thread in every slice.
    """
    if min_size is None:
        min_size = MIN_PARALLEL_ELEMENTS
    with ctrl_c_as_keyboard_interrupt():
        n_blocks = -(-n_images // block)
        if (size is not None and size < min_size) or n_blocks <= 1:
            return [work(0, n_images)]
        slices = [(lo * block, min(hi * block, n_images))
                  for lo, hi in image_slices(n_blocks, num_threads())]
        with single_threaded_blas():
            if len(slices) == 1 or getattr(_local, "is_worker", False):
                return [work(lo, hi) for lo, hi in slices]
            pool = _worker_pool(len(slices) - 1)
            futures = [pool.submit(work, lo, hi) for lo, hi in slices[1:]]
            try:
                first = work(*slices[0])
            finally:
                wait(futures)                        # never leave a worker writing behind us
        return [first] + [f.result() for f in futures]


def parallel_over_batch(kernel, batched, *args, min_size=None):
    """Run ``kernel(*(a[lo:hi] for a in batched), *args)`` on one slice of images per thread.

    ``batched`` are arrays whose first axis is the batch (inputs and outputs alike). When
    the largest holds fewer than ``min_size`` numbers (default ``MIN_PARALLEL_ELEMENTS``),
    the kernel runs once, in this thread.
    """
    return parallel_over(lambda lo, hi: kernel(*(a[lo:hi] for a in batched), *args),
                         len(batched[0]), size=max(a.size for a in batched), min_size=min_size)
