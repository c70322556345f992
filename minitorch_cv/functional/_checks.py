"""Input checks shared by the functional layers: clear errors instead of wrong answers."""

import numpy as np

__all__ = ["pair", "check_input", "check_window"]


def pair(value, name: str):
    """``3 -> (3, 3)``; ``(3, 2)`` stays; anything else raises a clear error."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    try:
        a, b = value
        return int(a), int(b)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None


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


def check_window(x_hw, kernel, stride, padding, layer: str):
    """Raise if the window does not fit the padded input (no output position)."""
    for axis, size, k, s, p in zip("HW", x_hw, kernel, stride, padding):
        if s < 1:
            raise ValueError(f"{layer}: stride must be >= 1, got {s}")
        if p < 0:
            raise ValueError(f"{layer}: padding must be >= 0, got {p}")
        if size + 2 * p < k:
            raise ValueError(f"{layer}: input {axis}={size} with padding {p} is smaller than "
                             f"the kernel ({k}); expected {axis} + 2*padding >= kernel_size")
