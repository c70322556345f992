"""Work buffers reused across calls (:func:`work_buffer`) and an opt-in allocator tuning
(:func:`tune_allocator`, never called by the library itself)."""

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
    """An uninitialized C-contiguous array for scratch work, reused by the next call with
    the same ``name`` in the same thread, grown to the largest size asked for. Each call site
    uses its own ``name``; the array must not leave the call nor outlive the next one."""
    dtype, size = np.dtype(dtype), math.prod(shape)
    if not hasattr(_local, "buffers"):
        _local.buffers = {}
    buffer = _local.buffers.get((name, dtype))
    if buffer is None or buffer.size < size:
        buffer = _local.buffers[name, dtype] = np.empty(size, dtype=dtype)
    return buffer[:size].reshape(shape)


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds, for the whole process (Linux with glibc only).

    An opt-in for training scripts: ``free`` then keeps freed blocks up to 1 GiB in the heap
    for the next ``malloc``, which saves the page faults of the fresh pages each step's new
    activations and gradients need (docs/results.md measures them), and the process keeps its
    peak memory. Returns True when both thresholds were set, False elsewhere."""
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
