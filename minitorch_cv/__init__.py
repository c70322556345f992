"""minitorch_cv: a pure-NumPy deep-learning library for computer vision.

Every layer has a hand-written forward and backward pass (no autograd); the API follows
PyTorch's names so that lessons and weights carry over. See README.md.
"""

import os

# OpenBLAS (NumPy's BLAS) keeps its idle threads spinning for a long while after every
# matrix product; on a small machine they then fight the numba kernels that run between
# two products for the same cores (a Task 2 training step: 214 ms -> 136 ms with a short
# timeout, on 2 cores). The setting only takes effect if NumPy is not imported yet, so
# scripts import minitorch_cv first; set OPENBLAS_THREAD_TIMEOUT yourself to override.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "4")

from . import functional, nn, optim
from ._memory import tune_allocator

tune_allocator()

__version__ = "0.1.0"

__all__ = ["functional", "nn", "optim", "theory", "models", "io", "data", "train",
           "gradcheck", "viz", "kernels", "__version__"]


def __getattr__(name):
    # Heavier subpackages load on first use, so `import minitorch_cv` stays fast.
    import importlib
    if name in ("theory", "models", "io", "data", "train", "gradcheck", "viz", "kernels"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'minitorch_cv' has no attribute {name!r}")
