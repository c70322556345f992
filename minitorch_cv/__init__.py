"""minitorch_cv: a pure-NumPy deep-learning library for computer vision.

Every layer has a hand-written forward and backward pass (no autograd); the API follows
PyTorch's names so that lessons and weights carry over. See README.md.
"""

import os

# OpenBLAS (NumPy's BLAS) keeps its idle threads spinning for a long while after every
# multithreaded matrix product; on a small machine they then take a core from the threads
# of the next layer. The library's own products run with single-threaded BLAS, inside its
# own threads (see minitorch_cv.kernels.parallel), so this only concerns products that the
# user's code makes between two layers: a short timeout keeps them from slowing the next
# layer. The setting only takes effect if NumPy is not imported yet; set
# OPENBLAS_THREAD_TIMEOUT yourself to override it.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from . import functional, nn, optim
from ._memory import tune_allocator

tune_allocator()

__version__ = "0.1.0"

__all__ = ["functional", "nn", "optim", "theory", "models", "io", "data", "train",
           "gradcheck", "viz", "kernels", "__version__"]
__all__ += ["reference"]
__all__ += ["exercises"]


def __getattr__(name):
    # Heavier subpackages load on first use, so `import minitorch_cv` stays fast.
    import importlib
    if name in ("theory", "models", "io", "data", "train", "gradcheck", "viz", "kernels"):
        return importlib.import_module(f"{__name__}.{name}")
    if name == "reference":
        return importlib.import_module(f"{__name__}.{name}")
    if name == "exercises":
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'minitorch_cv' has no attribute {name!r}")
