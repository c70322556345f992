"""How kernels are compiled: one plain-loop function, wrapped by numba.

Every kernel in this package is written once as ordinary Python loops over arrays and
integers. ``compile_kernel`` wraps that very function in ``numba.njit(cache=True)``, so
what a student reads is what runs. With ``NUMBA_DISABLE_JIT=1`` in the environment numba
hands back the plain Python function, and the whole library runs uncompiled (slowly) --
handy for stepping through a kernel in a debugger.

``prange`` is numba's parallel range: inside a compiled kernel with ``parallel=True`` its
iterations are spread over the CPU cores; in plain Python it is just ``range``.
"""

import numba
from numba import prange

__all__ = ["compile_kernel", "prange"]


def compile_kernel(func, parallel: bool = False):
    """Return ``func`` compiled by numba (cached on disk), or ``func`` itself without numba.

    ``parallel=True`` is for kernels whose outer loop is a ``prange`` over independent
    images; the threads never write the same element.
    """
    return numba.njit(cache=True, parallel=parallel, fastmath=False, nogil=True)(func)
