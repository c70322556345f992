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
"""

import numba

__all__ = ["compile_kernel"]


def compile_kernel(func):
    """Return ``func`` compiled by numba (cached on disk, GIL released), or ``func`` itself
    when numba's JIT is disabled."""
    return numba.njit(cache=True, fastmath=False, nogil=True)(func)
