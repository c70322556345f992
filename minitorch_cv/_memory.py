"""Memory: the library's own work buffers, reused across calls, and an opt-in allocator tuning.

A training step allocates and frees the same large arrays every step. Arrays that hold
only intermediate numbers inside one call -- a convolution's im2col columns and their
gradient, a padded gradient before it is cropped -- are *work buffers*: nobody sees them
after the call. :func:`work_buffer` hands them out from a per-thread store, so the next
step reuses the same memory instead of asking the C allocator (and, through it, the OS)
for fresh pages. The store is per thread (a ``threading.local``): two threads, the
library's workers or the user's own, never share a buffer. Arrays that leave the call --
outputs, gradients, what a forward pass keeps for backward -- are never work buffers.

:func:`tune_allocator` is an explicit, process-wide opt-in that the library never calls
itself: it raises glibc's mmap and trim thresholds so that ``free`` keeps large blocks in
the process heap instead of returning them to the OS. Then the activations and gradients
that a step allocates anew (which no library can reuse, since the caller may keep them)
come back without page faults. The cost: the process keeps its high-water mark of memory
instead of shrinking between steps. It changes the whole process's allocator, so only the
program's author should decide it (``minitorch_cv.tune_allocator()`` at the start of a
training script).
"""

import ctypes
import ctypes.util
import sys
import threading

import numpy as np

__all__ = ["work_buffer", "tune_allocator"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

_local = threading.local()


def work_buffer(name: str, shape, dtype) -> np.ndarray:
    """An uninitialized C-contiguous array of ``shape`` and ``dtype`` for scratch work,
    reused by the next call with the same ``name`` in the same thread.

    The buffer grows to the largest size asked for under ``name`` in this thread, and is
    kept for the thread's lifetime. Each call site uses its own ``name``; the array must
    not be returned to the caller, kept after the call, or used while another call with
    the same name (in the same thread) uses it.
    """
    dtype = np.dtype(dtype)
    size = 1
    for extent in shape:
        size *= extent
    store = getattr(_local, "buffers", None)
    if store is None:
        store = _local.buffers = {}
    key = (name, dtype)
    buffer = store.get(key)
    if buffer is None or buffer.size < size:
        buffer = store[key] = np.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds, for the whole process (Linux with glibc only).

    An opt-in for training scripts: ``free`` then keeps freed large blocks (up to 1 GiB)
    in the heap for the next ``malloc`` instead of handing them back to the kernel, which
    saves the page faults of fresh zeroed pages every step (docs/results.md measures them
    for a Task 2 training step). The process keeps its peak memory instead
    of shrinking between steps. ``import minitorch_cv`` never calls this.

    Returns
    -------
    bool
        True when both thresholds were set; False elsewhere (not Linux, not glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):        # not glibc (e.g. musl): nothing to tune
        return False
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, 1 << 30)       # blocks up to 1 GiB come from the heap
    ok_trim = mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1)
    return bool(ok_mmap and ok_trim)
