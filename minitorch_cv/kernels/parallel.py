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
work, and so take a core from the convolution threads of the next layer. In a training
loop the Task 2 step took 143 ms with BLAS threads in the Linear layers and 95 ms without
them (on this project's 2-core machine).

Handing a slice to a worker thread costs about 0.2 ms on this project's machine (waking a
sleeping thread in a virtual machine): as long as a memory-bound pass over a million
float32 numbers. Work on fewer than ``MIN_PARALLEL_ELEMENTS`` numbers therefore runs in
the calling thread (``parallel_over(work, n, size=...)``). Measured for the batch-norm
and ReLU-backward kernels: 0.16 ms in one thread against 0.28 ms on two for 0.5 M
numbers, 0.61 against 0.57 ms for 2.1 M, 2.7 against 1.5 ms for 8.4 M.

``MINITORCH_CV_NUM_THREADS`` sets the number of threads (default: the CPU cores this
process may use). With 1 thread (or a batch of one image) ``work`` runs in the calling
thread, with BLAS at its usual thread count.
"""

import os
from concurrent.futures import ThreadPoolExecutor, wait

__all__ = ["num_threads", "parallel_over", "parallel_over_batch", "image_slices",
           "single_threaded_blas", "MIN_PARALLEL_ELEMENTS"]

MIN_PARALLEL_ELEMENTS = 1 << 21

_pool = None
_blas = None


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


def single_threaded_blas():
    """A context manager that limits BLAS (NumPy's OpenBLAS or MKL) to one thread.

    ``with single_threaded_blas(): y = a @ b`` -- the product runs in the calling thread
    only, and BLAS is back at its own thread count afterwards (costs about 7 us).
    """
    global _blas
    if _blas is None:                               # found once: the BLAS NumPy loaded
        from threadpoolctl import ThreadpoolController
        _blas = ThreadpoolController().select(user_api="blas")
    return _blas.limit(limits=1)


def parallel_over(work, n_images: int, size=None):
    """Run ``work(lo, hi)`` on one contiguous slice of ``range(n_images)`` per thread.

    Returns the list of the calls' results, in slice order. The calling thread does the
    first slice itself; an exception in any slice is raised here. ``size``, when given, is
    the number of array elements the work goes through: below ``MIN_PARALLEL_ELEMENTS``,
    ``work(0, n_images)`` runs in the calling thread alone.
    """
    global _pool
    if size is not None and size < MIN_PARALLEL_ELEMENTS:
        return [work(0, n_images)]
    slices = image_slices(n_images, num_threads())
    if len(slices) == 1:
        return [work(0, n_images)]
    if _pool is None or _pool._max_workers < len(slices) - 1:
        _pool = ThreadPoolExecutor(max_workers=len(slices) - 1,
                                   thread_name_prefix="minitorch_cv")
    with single_threaded_blas():
        futures = [_pool.submit(work, lo, hi) for lo, hi in slices[1:]]
        try:
            first = work(*slices[0])
        finally:
            wait(futures)                            # never leave a worker writing behind us
    return [first] + [f.result() for f in futures]


def parallel_over_batch(kernel, batched, *args, min_size=None):
    """Run ``kernel(*(a[lo:hi] for a in batched), *args)`` on one slice of images per thread.

    ``batched`` are arrays whose first axis is the batch (inputs and outputs alike); the
    other arguments go to every call unchanged. The common case of :func:`parallel_over`:
    a compiled kernel that loops over the images it is given. When the largest of the
    arrays holds fewer than ``min_size`` numbers (default ``MIN_PARALLEL_ELEMENTS``), the
    kernel runs once, in this thread; kernels that do more work per number than a
    memory-bound pass set a lower ``min_size``.
    """
    size = max(a.size for a in batched)
    if size < (MIN_PARALLEL_ELEMENTS if min_size is None else min_size):
        return [kernel(*batched, *args)]
    return parallel_over(lambda lo, hi: kernel(*(a[lo:hi] for a in batched), *args),
                         len(batched[0]))
