"""How kernels are compiled: one plain-loop function, wrapped by numba.

Every kernel in this package is written once as ordinary Python loops over arrays and
integers. ``compile_kernel`` wraps that very function in ``numba.njit(cache=True)``, so
what a student reads is what runs. With ``NUMBA_DISABLE_JIT=1`` in the environment numba
hands back the plain Python function, and the whole library runs uncompiled (slowly) --
handy for stepping through a kernel in a debugger.

Kernels are compiled for ONE thread and release the GIL (``nogil=True``). The library runs
them on several threads itself, each on its own slice of the batch
(:mod:`minitorch_cv.kernels.parallel`), so that the copies of one thread and the BLAS
products of another never wait for each other -- and no thread pool (numba's OpenMP
workers) is left spinning on a core that the next matrix product needs.

Where the compiled code is cached: numba writes it to ``__pycache__`` beside this package's
source files, or, when ``NUMBA_CACHE_DIR`` is set, under that directory (then, when neither
is writable, under ``~/.cache/numba``). With none of them writable -- a read-only install,
a locked-down container -- the kernels are compiled without a cache: every new process
compiles them again on first use (a few seconds), and one :class:`KernelCacheWarning` says
so. Point ``NUMBA_CACHE_DIR`` at a writable directory to keep the cache.
"""

import threading
import warnings

import numba

__all__ = ["compile_kernel", "KernelCacheWarning"]


class KernelCacheWarning(RuntimeWarning):
    """numba cannot cache the compiled kernels: they are compiled anew in every process."""


_warned = False
_warn_lock = threading.Lock()


def _warn_once(reason: str) -> None:
    global _warned
    with _warn_lock:
        if _warned:
            return
        _warned = True
    warnings.warn(
        "minitorch_cv: numba cannot cache the compiled kernels (" + reason + "); they are "
        "compiled without a cache, again in every process. Set NUMBA_CACHE_DIR to a "
        "writable directory to keep them.", KernelCacheWarning, stacklevel=3)


def compile_kernel(func):
    """Return ``func`` compiled by numba (cached on disk, GIL released), or ``func`` itself
    when numba's JIT is disabled.

    When numba finds no writable cache directory, the kernel is compiled without a cache
    and a :class:`KernelCacheWarning` is issued (once per process, not once per kernel).
    """
    try:
        return numba.njit(cache=True, fastmath=False, nogil=True)(func)
    except RuntimeError as error:                  # "cannot cache function ...: no locator"
        _warn_once(str(error))
    return numba.njit(cache=False, fastmath=False, nogil=True)(func)
