"""Weight initialization with PyTorch's default distributions, from a seedable Generator.

PyTorch initializes ``Conv2d`` and ``Linear`` weights with ``kaiming_uniform_(w, a=sqrt(5))``:
gain = sqrt(2 / (1 + a^2)) = sqrt(1/3), bound = gain * sqrt(3 / fan_in) = 1 / sqrt(fan_in), so
weight and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), ``fan_in = in_channels * K_h * K_w``
(conv) or ``in_features`` (linear).

Every layer takes ``rng=`` (a Generator or an int seed); without one it draws from this
module's default generator (:func:`manual_seed`), never from NumPy's global state.
"""

import math

import numpy as np

__all__ = ["manual_seed", "default_generator", "get_rng", "fan_in", "uniform",
           "kaiming_uniform", "zeros", "ones"]

# Always this object (layers keep a reference to it); manual_seed replaces its state.
_default = np.random.Generator(np.random.PCG64())


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library's default generator in place, like ``torch.manual_seed``.

    Later draws follow ``seed``, also by layers built before (Dropout without ``rng=``): the
    generator then draws exactly what ``numpy.random.default_rng(seed)`` draws. NumPy's
    global state and generators passed as ``rng=`` are untouched. Returns the generator.
    """
    state = np.random.PCG64(seed).state     # what default_rng(seed) would start from
    with _default.bit_generator.lock:       # not in the middle of another thread's draw
        _default.bit_generator.state = state
    return _default


def default_generator() -> np.random.Generator:
    """The library's default generator (always the same object; see :func:`manual_seed`)."""
    return _default


def get_rng(rng=None) -> np.random.Generator:
    """``rng`` itself, a new Generator from an int seed, or the default generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    return _default if rng is None else np.random.default_rng(rng)


def fan_in(shape) -> int:
    """Inputs feeding one output: ``shape[1] * prod(shape[2:])``."""
    return int(shape[1] * np.prod(shape[2:], dtype=np.int64))


def uniform(shape, bound, rng=None, dtype=np.float32):
    """U(-bound, bound) samples of ``shape``."""
    return get_rng(rng).uniform(-bound, bound, size=shape).astype(dtype)


SQRT5 = math.sqrt(5)   # PyTorch's default negative slope ``a`` for Conv2d/Linear weights


def kaiming_uniform(shape, a=SQRT5, rng=None, dtype=np.float32):
    """He-uniform with leaky-ReLU slope ``a``: bound = sqrt(6 / ((1 + a^2) * fan_in))."""
    bound = math.sqrt(6.0 / ((1 + a * a) * fan_in(shape)))
    return uniform(shape, bound, rng, dtype)


def zeros(shape, dtype=np.float32):
    """An array of zeros (biases and batch-norm shifts start here)."""
    return np.zeros(shape, dtype=dtype)


def ones(shape, dtype=np.float32):
    """An array of ones (batch-norm scales start here)."""
    return np.ones(shape, dtype=dtype)
