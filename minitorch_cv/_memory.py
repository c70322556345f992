"""Keep freed large arrays in the process heap instead of returning them to the OS.

A training step allocates and frees the same large arrays (im2col columns, their
gradients, activations) every step. glibc hands blocks above its mmap threshold straight
back to the kernel, so each step pays again for fresh zeroed pages (page faults) -- about a
tenth of a Network 1 step on this machine. Raising the mmap and trim thresholds makes
``free`` keep those blocks for the next step's ``malloc``. The cost: the process keeps its
high-water mark of memory instead of shrinking between steps (the peak is unchanged).

Set ``MINITORCH_CV_KEEP_MALLOC=1`` to leave the C allocator's settings alone.
"""

import ctypes
import ctypes.util
import os
import sys

__all__ = ["tune_allocator"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def tune_allocator() -> bool:
    """Raise glibc's mmap/trim thresholds (Linux only); returns True when applied."""
    if os.environ.get("MINITORCH_CV_KEEP_MALLOC") == "1" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):        # not glibc (e.g. musl): nothing to tune
        return False
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, 1 << 30)       # blocks up to 1 GiB come from the heap
    ok_trim = mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1)
    return bool(ok_mmap and ok_trim)
