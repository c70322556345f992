"""Argument and input checks shared by every layer: a ``TypeError`` for a value of the wrong
kind, a ``ValueError`` for one out of range, each a one-line message that starts with the
layer's name and says what was expected. The bottom of the house: it imports nothing from
the library.

>>> from minitorch_cv.checks import pair, check_int
>>> pair(3, "kernel_size")
(3, 3)
>>> pair((3, 2), "stride", "conv2d", minimum=1)
(3, 2)
>>> check_int(2.0, "out_channels", "Conv2d")
Traceback (most recent call last):
    ...
TypeError: Conv2d: out_channels must be an int, got 2.0 (float)
"""

import math
import numbers

import numpy as np

__all__ = ["pair", "check_int", "check_real", "check_float_dtype", "check_pool_padding",
           "check_input", "check_window", "check_same_dtype", "check_grad",
           "check_loss_grad", "check_kernel_dtype", "KERNEL_DTYPES"]

#: The dtypes the compiled kernels (im2col, pooling, ReLU, batch norm) are built and tested for.
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _where(layer: str) -> str:
    return f"{layer}: " if layer else ""


def check_int(value, name: str, layer: str = "", minimum: int | None = None) -> int:
    """``value`` as a Python int, or a clear error: TypeError for a non-integer (a float or
    a bool), ValueError below ``minimum``."""
    if not _is_int(value):
        raise TypeError(f"{_where(layer)}{name} must be an int, got {value!r} "
                        f"({type(value).__name__})")
    if minimum is not None and value < minimum:
        raise ValueError(f"{_where(layer)}{name} must be >= {minimum}, got {value}")
    return int(value)


def check_real(value, name: str, layer: str = "", low=None, high=None,
               low_open=False, high_open=False) -> float:
    """``value`` as a float within [low, high] (``*_open``: the bound excluded), or a clear
    error: TypeError for a non-number (a bool, a string), ValueError out of range or NaN."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{_where(layer)}{name} must be a real number, got {value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if math.isnan(value) or too_low or too_high:
        interval = (("(" if low_open else "[") + ("-inf" if low is None else f"{low}") + ", "
                    + ("inf" if high is None else f"{high}") + (")" if high_open else "]"))
        raise ValueError(f"{_where(layer)}{name} must be in {interval}, got {value}")
    return value


def pair(value, name: str, layer: str = "", minimum: int | None = None):
    """``3 -> (3, 3)``; ``(3, 2)`` stays; anything else (floats, bools, a wrong length, a
    value below ``minimum``) raises a clear TypeError or ValueError."""
    if _is_int(value):
        values = (value, value)
    else:
        try:
            values = tuple(value)
        except TypeError:
            values = ()
        if len(values) != 2 or not all(_is_int(v) for v in values):
            raise TypeError(f"{_where(layer)}{name} must be an int or a pair of ints, "
                            f"got {value!r}")
    return tuple(check_int(v, name, layer, minimum) for v in values)


def check_float_dtype(dtype, layer: str = "", default="float32"):
    """``dtype`` (``default`` when None) as a floating ``np.dtype``, or a clear TypeError."""
    try:
        result = np.dtype(default if dtype is None else dtype)
    except TypeError:
        raise TypeError(f"{_where(layer)}dtype must be a floating dtype, got {dtype!r}") from None
    if not np.issubdtype(result, np.floating):
        raise TypeError(f"{_where(layer)}dtype must be a floating dtype, got {result}")
    return result


def check_pool_padding(padding, kernel, layer: str):
    """A ValueError unless padding <= kernel // 2 (PyTorch's rule: every window overlaps)."""
    for k, p in zip(kernel, padding):
        if p > k // 2:
            raise ValueError(f"{layer}: padding ({p}) should be at most half the kernel "
                             f"size ({k})")


def check_input(x, ndim: int, layer: str, channels=None, channel_axis: int = 1,
                expected: str = ""):
    """Raise if ``x`` is not a floating array of rank ``ndim`` (with ``channels`` channels)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer}: expected a NumPy array {expected}, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{layer}: expected input of rank {ndim} {expected}, "
                         f"got shape {x.shape}")
    if channels is not None and x.shape[channel_axis] != channels:
        raise ValueError(f"{layer}: expected {channels} channels at axis {channel_axis} "
                         f"{expected}, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{layer}: expected a floating-point input, got dtype {x.dtype} "
                        "(convert images with ToFloat/Normalize first)")


def check_kernel_dtype(x, layer: str):
    """Raise a TypeError unless ``x`` is float32 or float64 (what the compiled kernels take)."""
    if x.dtype not in KERNEL_DTYPES:
        raise TypeError(f"{layer}: expected a float32 or float64 input, got dtype {x.dtype} "
                        f"(convert it: x.astype(np.float32))")


def check_same_dtype(x, param_dtype, layer: str):
    """Raise a TypeError when the input's dtype differs from the parameters' (as PyTorch does);
    the message says both ways to fix it."""
    param_dtype = np.dtype(param_dtype)
    if x.dtype != param_dtype:
        raise TypeError(
            f"{layer}: the input is {x.dtype} but the layer's parameters are {param_dtype}; "
            f"convert the input (x.astype(np.{param_dtype})) or the model "
            f"(model.to(np.{x.dtype}))")


def check_window(x_hw, kernel, stride, padding, layer: str):
    """Raise if the window does not fit the padded input (no output position)."""
    for axis, size, k, s, p in zip("HW", x_hw, kernel, stride, padding):
        for name, value, minimum in (("kernel_size", k, 1), ("stride", s, 1), ("padding", p, 0)):
            if value < minimum:
                raise ValueError(f"{layer}: {name} must be >= {minimum}, got {value}")
        if size < 1:
            raise ValueError(f"{layer}: expected an input of at least 1x1 pixels, got "
                             f"{axis}={size}")
        if size + 2 * p < k:
            raise ValueError(f"{layer}: input {axis}={size} with padding {p} is smaller than "
                             f"the kernel ({k}); expected {axis} + 2*padding >= kernel_size")


def check_grad(dout, shape, dtype, layer: str):
    """Check a backward pass's upstream gradient against what forward returned: a NumPy
    array of exactly ``shape`` and a floating dtype, converted to ``dtype`` (the dtype forward
    returned, as PyTorch's autograd does); ``dtype=None`` skips the dtype check."""
    if not isinstance(dout, np.ndarray):
        raise TypeError(f"{layer}: expected dout as a NumPy array of shape {tuple(shape)} "
                        f"(the shape forward returned), got {type(dout).__name__}")
    if dout.shape != tuple(shape):
        raise ValueError(f"{layer}: expected dout of shape {tuple(shape)} (the shape forward "
                         f"returned), got {dout.shape}")
    if dtype is None:                               # forward passed any dtype through
        return dout
    if not np.issubdtype(dout.dtype, np.floating):
        raise TypeError(f"{layer}: expected a floating-point dout ({np.dtype(dtype)}, the "
                        f"dtype forward returned), got dtype {dout.dtype}")
    return dout if dout.dtype == dtype else dout.astype(dtype)


def check_loss_grad(dloss, reduction, n, dtype, layer: str):
    """Check ``dloss = dL/d(loss)`` for a loss over ``n`` samples reduced by ``reduction``:
    a real number (or 0-d float array) for ``"mean"`` or ``"sum"``, an (n,) float array for
    ``"none"``. Returns the number, or the (n,) array of ``dtype``."""
    if reduction == "none":
        return check_grad(dloss, (n,), dtype, layer)
    if isinstance(dloss, np.ndarray) and dloss.shape == ():
        return check_grad(dloss, (), dtype, layer)[()]
    if isinstance(dloss, (bool, np.bool_)) or not isinstance(dloss, numbers.Real):
        raise TypeError(f"{layer}: expected dloss as a real number (the loss is a scalar), "
                        f"got {getattr(dloss, 'shape', type(dloss).__name__)}")
    return dloss
