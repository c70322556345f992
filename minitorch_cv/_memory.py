"""Memory: the library's own work buffers, reused across calls, and an opt-in allocator tuning.

Arrays that hold only intermediate numbers inside one call -- a convolution's im2col
columns and their gradient, a padded gradient before it is cropped -- are *work buffers*:
nobody sees them after the call. :func:`work_buffer` hands them out from a per-thread
store (a ``threading.local``: two threads never share a buffer), so the next training step
reuses the same memory instead of asking the allocator (and the OS) for fresh pages.
Arrays that leave the call -- outputs, gradients, what forward keeps for backward -- are
never work buffers.

:func:`tune_allocator` is an explicit, process-wide opt-in that the library never calls
itself (see there).
"""

import ctypes
import ctypes.util
import math
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
    dtype, size = np.dtype(dtype), math.prod(shape)
    if not hasattr(_local, "buffers"):
        _local.buffers = {}
    buffer = _local.buffers.get((name, dtype))
    if buffer is None or buffer.size < size:
        buffer = _local.buffers[name, dtype] = np.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds, for the whole process (Linux with glibc only).

    An opt-in for training scripts (``minitorch_cv.tune_allocator()`` at the start):
    ``free`` then keeps freed large blocks (up to 1 GiB) in the heap for the next
    ``malloc`` instead of handing them back to the kernel, which saves the page faults of
    fresh zeroed pages for the activations and gradients every step allocates anew
    (docs/results.md measures them). The process keeps its peak memory instead of
    shrinking between steps. ``import minitorch_cv`` never calls this.

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
