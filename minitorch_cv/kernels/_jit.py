"""How kernels are compiled: a kernel's plain loops wrapped by ``numba.njit``, so what a
student reads is what runs (``NUMBA_DISABLE_JIT=1`` runs them uncompiled, for a debugger).

Kernels are compiled for ONE thread and release the GIL: the library runs them on its own
threads (:mod:`minitorch_cv.kernels.parallel`), and no numba thread pool is left spinning
on a core that the next matrix product needs. numba caches the compiled code beside the
sources or under ``NUMBA_CACHE_DIR``; with nowhere writable (a read-only install) the
kernels are compiled anew in every process, and one :class:`KernelCacheWarning` says so.
"""

import threading
import warnings

import numba

__all__ = ["compile_kernel", "KernelCacheWarning"]


class KernelCacheWarning(RuntimeWarning):
    """numba cannot cache the compiled kernels: they are compiled anew in every process."""


_warned = False
_warn_lock = threading.Lock()


def compile_kernel(func):
    """``func`` compiled by numba (cached on disk, GIL released), or ``func`` itself when
    numba's JIT is disabled; without a writable cache, compiled without one (and a
    :class:`KernelCacheWarning`, once per process)."""
    global _warned
    try:
        return numba.njit(cache=True, fastmath=False, nogil=True)(func)
    except RuntimeError as error:                  # "cannot cache function ...: no locator"
        with _warn_lock:
            first, _warned = not _warned, True
        if first:
            warnings.warn(f"minitorch_cv: numba cannot cache the compiled kernels ({error}); "
                          "they are compiled without a cache, again in every process. Set "
                          "NUMBA_CACHE_DIR to a writable directory to keep them.",
                          KernelCacheWarning, stacklevel=2)
    return numba.njit(cache=False, fastmath=False, nogil=True)(func)
