"""Data parallelism over the images of a batch (or the channels), on a few worker threads.

The images of a batch are independent in every convolution and pooling layer, so the
batch is cut into one contiguous slice per CPU core and each slice is processed by its own
thread::

    parallel_over(work, n)      # runs work(0, n/2) and work(n/2, n) side by side

``work(lo, hi)`` handles images ``lo .. hi-1`` and returns anything (the results are
returned in slice order, e.g. partial weight gradients to be summed). Batch norm shares
out its channels the same way: there, ``lo .. hi-1`` are channels.

Why threads and not NumPy's own parallelism: a convolution alternates copying (im2col) with
matrix products. With BLAS parallel *inside* each product, every product starts and stops
both cores, and the copies in between run on one. With one slice per core, each thread
runs its own copies and its own single-threaded products back to back, in its own cache:
nothing waits. So while the workers run, BLAS is limited to one thread (threadpoolctl);
numba kernels and NumPy matrix products release the GIL, so the threads really do run
at the same time.

The library's other matrix products (the Linear layers) run with single-threaded BLAS too
(:func:`single_threaded_blas`): a small product in the calling thread, a large one split
by rows among these same threads. The reason is what a multithreaded BLAS product leaves
behind: OpenBLAS's worker threads keep spinning for a while after it, waiting for more
work, and so take a core from the convolution threads of the next layer (docs/results.md
measures what that cost a Task 2 training step).

Handing a slice to a worker thread costs about as much as a memory-bound pass over a
million float32 numbers (waking a sleeping thread, in a virtual machine even more so).
Work on fewer than ``MIN_PARALLEL_ELEMENTS`` numbers therefore runs in the calling thread
(``parallel_over(work, n, size=...)``); docs/results.md has the measurements behind the
threshold.

``MINITORCH_CV_NUM_THREADS`` sets the number of threads (default: the CPU cores this
process may use).

**The same numbers on any number of threads.** A result must not depend on how many
threads shared the work. So the slices start at multiples of a block size that depends on
the arrays only (``parallel_over(work, n, block=...)``): a convolution's groups of images,
a Linear product's blocks of rows. Each thread takes whole blocks and treats them one by
one, exactly as a single thread would; sums across blocks (a convolution's weight
gradient) are added in block order after the threads are done. Everything else shared
out here is computed image by image (or channel by channel), whatever the split.

**Safe to embed.** The pool is made under a lock (two user threads may call at once);
after ``os.fork`` the child starts without it (the parent's workers do not exist there)
and makes its own on first use. BLAS's thread count is process-wide: the library's calls
share one limit, saved by the first that enters and restored by the last that leaves
(:func:`single_threaded_blas`), so that concurrent calls leave it as they found it.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager

__all__ = ["num_threads", "parallel_over", "parallel_over_batch", "image_slices",
           "ctrl_c_as_keyboard_interrupt",
           "single_threaded_blas", "MIN_PARALLEL_ELEMENTS"]

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
    slices, lo = [], 0
    for k in range(parts):
        hi = lo + base + (1 if k < extra else 0)
        slices.append((lo, hi))
        lo = hi
    return slices


def _blas_setters():
    """(set_num_threads, current count) for every BLAS library NumPy loaded."""
    global _blas
    if _blas is None:                               # found once: the BLAS NumPy loaded
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController().select(user_api="blas").lib_controllers
    # threadpoolctl >= 3.8 lets only the first Python thread that set OpenBLAS's limit set
    # it again; this module serializes its own changes (under _blas_lock), so that any
    # thread may make the first or the last call, and it sets the limit directly.
    return [(getattr(lib, "_real_set_num_threads", lib.set_num_threads), lib.num_threads)
            for lib in _blas]


def _limit_blas():
    global _blas_users, _blas_saved
    with _blas_lock:
        if _blas_users == 0:                        # the first call: save, then limit
            _blas_saved = _blas_setters()
            for set_threads, count in _blas_saved:
                if count != 1:
                    set_threads(1)
        _blas_users += 1
    _local.blas_depth = getattr(_local, "blas_depth", 0) + 1


def _restore_blas():
    global _blas_users, _blas_saved
    _local.blas_depth -= 1
    with _blas_lock:
        _blas_users -= 1
        if _blas_users == 0:                        # the last call: back as it was found
            for set_threads, count in _blas_saved:
                if count != 1:
                    set_threads(count)
            _blas_saved = []


@contextmanager
def single_threaded_blas():
    """A context manager that limits BLAS (NumPy's OpenBLAS or MKL) to one thread.

    ``with single_threaded_blas(): y = a @ b`` -- the product runs in the calling thread
    only. BLAS's thread count is process-wide, so the calls of all threads share one limit:
    the first call that enters saves the count and sets 1, the last one that leaves puts
    the saved count back. Two user threads running layers at once therefore leave BLAS as
    they found it. (While any library call runs, the user's own products elsewhere in the
    process run on one BLAS thread too.)
    """
    _limit_blas()
    try:
        yield
    finally:
        _restore_blas()


def _after_fork_in_child():
    """In a child made by ``os.fork``, only the forking thread exists: the parent's worker
    threads are gone and its locks may be held by threads that no longer run. Start again:
    no pool (the next call makes one), fresh locks, and the BLAS limit held only by the
    calls of this thread (none, unless the fork happened inside one)."""
    global _pool, _pool_lock, _blas_lock, _blas_users, _blas_saved
    _pool = None
    _pool_lock = threading.Lock()
    _blas_lock = threading.Lock()
    _blas_users = getattr(_local, "blas_depth", 0)
    if _blas_users == 0 and _blas_saved:
        for set_threads, count in _blas_saved:
            if count != 1:
                set_threads(count)
        _blas_saved = []


if hasattr(os, "register_at_fork"):                 # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _mark_worker():
    _local.is_worker = True


def _worker_pool(workers: int):
    """The pool of worker threads, made (or enlarged) under a lock: two user threads
    calling at once get one pool."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < workers:
            # a smaller pool is dropped, not shut down: another thread may be submitting
            # to it; its threads end once it is garbage and idle
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minitorch_cv",
                                       initializer=_mark_worker)
        return _pool


@contextmanager
def ctrl_c_as_keyboard_interrupt():
    """Let Ctrl-C during a compiled kernel arrive as ``KeyboardInterrupt``.

    SIGINT only sets a flag while a kernel runs; Python's handler raises
    ``KeyboardInterrupt`` at the next check, which can fall inside numba's dispatcher as
    it returns. The dispatcher then returns a result with that exception set, and Python
    reports ``SystemError: CPUDispatcher(...) returned a result with an exception set``,
    with the ``KeyboardInterrupt`` as its cause. This re-raises the cause, so a training
    loop's ``except KeyboardInterrupt`` (and a notebook's interrupt button) work.
    """
    try:
        yield
    except SystemError as err:
        cause = err.__cause__ or err.__context__
        if isinstance(cause, KeyboardInterrupt):
            raise cause from None
        raise


def parallel_over(work, n_images: int, size=None, block=1):
    """Run ``work(lo, hi)`` on one contiguous slice of ``range(n_images)`` per thread.

    Returns the list of the calls' results, in slice order. The calling thread does the
    first slice itself; an exception in any slice is raised here. ``size``, when given, is
    the number of array elements the work goes through: below ``MIN_PARALLEL_ELEMENTS``,
    ``work(0, n_images)`` runs in the calling thread alone.

    Slices start at multiples of ``block``: the threads share out whole blocks, so a
    ``work`` that walks its slice block by block makes the same calls, on the same
    blocks, whatever the number of threads -- and gives the same numbers. With more than
    one block, BLAS runs on one thread inside every slice (also when a single thread
    does all of them); with one block, ``work`` runs in the calling thread with BLAS at
    its usual thread count. A call made from inside a worker runs in that worker.
    """
    with ctrl_c_as_keyboard_interrupt():
        if size is not None and size < MIN_PARALLEL_ELEMENTS:
            return [work(0, n_images)]
        n_blocks = -(-n_images // block)
        if n_blocks <= 1:
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

    ``batched`` are arrays whose first axis is the batch (inputs and outputs alike); the
    other arguments go to every call unchanged. The common case of :func:`parallel_over`:
    a compiled kernel that loops over the images it is given, each image on its own (so
    any split gives the same numbers). When the largest of the arrays holds fewer than
    ``min_size`` numbers (default ``MIN_PARALLEL_ELEMENTS``), the kernel runs once, in
    this thread; kernels that do more work per number than a memory-bound pass set a
    lower ``min_size``.
    """
    size = max(a.size for a in batched)
    if size < (MIN_PARALLEL_ELEMENTS if min_size is None else min_size):
        with ctrl_c_as_keyboard_interrupt():
            return [kernel(*batched, *args)]
    return parallel_over(lambda lo, hi: kernel(*(a[lo:hi] for a in batched), *args),
                         len(batched[0]))
