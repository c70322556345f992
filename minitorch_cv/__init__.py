"""minitorch_cv: a pure-NumPy deep-learning library for computer vision.

Every layer has a hand-written forward and backward pass (no autograd); the API follows
PyTorch's names so that lessons and weights carry over. See README.md.
"""

from . import checks, functional, nn, optim
from ._memory import tune_allocator  # an opt-in: importing changes nothing outside the library

#: The version of this library (``setup.cfg`` has the same).
__version__ = "0.1.0"

__all__ = ["checks", "functional", "nn", "optim", "theory", "models", "io", "data", "train",
           "gradcheck", "viz", "kernels", "reference", "exercises", "tune_allocator",
           "__version__"]


def __getattr__(name):
    # Heavier subpackages load on first use, so `import minitorch_cv` stays fast.
    import importlib
    if name in ("theory", "models", "io", "data", "train", "gradcheck", "viz", "kernels",
                "reference", "exercises"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'minitorch_cv' has no attribute {name!r}")
