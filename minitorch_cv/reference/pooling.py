"""Max and average pooling, the textbook way: a loop over the output positions, each
window taken for the whole batch at once.

``stride`` defaults to ``kernel_size``; ``padding`` (at most half the kernel) counts as
-inf for max pooling and as zeros, counted in the mean, for average pooling (PyTorch's
defaults).
"""

import numpy as np

from ..checks import check_grad
from ..functional.pooling import check_pooling

__all__ = ["maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward",
           "avgpool2d_backward"]


def _windows(x_shape, kernel, stride, padding):
    """The output (H_out, W_out), and for each output ``(i, j)`` the rows and columns of its
    window, clipped to the image (the padding around it is never read)."""
    h, w = x_shape[2:]
    out_h = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    out_w = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    windows = []
    for i in range(out_h):
        top = i * stride[0] - padding[0]
        for j in range(out_w):
            left = j * stride[1] - padding[1]
            windows.append((i, j, slice(max(top, 0), min(top + kernel[0], h)),
                            slice(max(left, 0), min(left + kernel[1], w))))
    return (out_h, out_w), windows


def maxpool2d_forward(x, kernel_size, stride=None, padding=0, for_backward=True):
    """Maximum of every window; ``kernel_size``, ``stride`` and ``padding`` are ints or
    (int, int) pairs.

    The cache is ``(argmax, x.shape, x.dtype)`` (None when ``for_backward=False``, for
    inference): ``argmax[n, c, i, j]`` is the flat index ``row * W + col`` in the input
    image of the window's maximum (the first one in row-major order if several are equal;
    a window holding NaN gives NaN, and its index is the last NaN's -- both as PyTorch).

    Shape
    -----
    (N, C, H, W) -> (N, C, H_out, W_out), ``H_out = (H + 2 * P - K_h) // S + 1``.

    Backward
    --------
    ``dout[n, c, i, j]`` goes to the position ``argmax[n, c, i, j]`` only
    (:func:`maxpool2d_backward`).
    """
    kernel, stride, padding, _ = check_pooling(x, kernel_size, stride, padding, "max_pool2d")
    n, c, _h, w = x.shape
    out_hw, windows = _windows(x.shape, kernel, stride, padding)
    out = np.empty((n, c) + out_hw, dtype=x.dtype)
    argmax = np.empty((n, c) + out_hw, dtype=np.int32)
    for i, j, rows, cols in windows:                # padding is -inf: it never wins
        window = x[:, :, rows, cols].reshape(n, c, -1)
        k = window.argmax(axis=2)                           # first maximum, row-major
        nan = np.isnan(window)                              # NaN wins, as in PyTorch:
        last_nan = nan.shape[2] - 1 - nan[:, :, ::-1].argmax(axis=2)   # its last NaN
        k = np.where(nan.any(axis=2), last_nan, k)
        out[:, :, i, j] = np.take_along_axis(window, k[:, :, None], axis=2)[:, :, 0]
        width = cols.stop - cols.start
        argmax[:, :, i, j] = (rows.start + k // width) * w + cols.start + k % width
    return out, ((argmax, x.shape, x.dtype) if for_backward else None)


def maxpool2d_backward(dout, cache, *, layer="maxpool2d_backward"):
    """Gradient of :func:`maxpool2d_forward`: dout (N, C, H_out, W_out) -> dx (N, C, H, W).

    Backward
    --------
    ``dx[n, c].flat[argmax[n, c, i, j]] += dout[n, c, i, j]``: each window's gradient goes
    to its (first) maximum only; a pixel that is the maximum of several overlapping
    windows collects them all (``np.add.at``); every other pixel gets 0.
    """
    argmax, (n, c, h, w), dtype = cache
    dout = check_grad(dout, argmax.shape, dtype, layer)
    dx = np.zeros((n, c, h * w), dtype=dout.dtype)
    images = np.arange(n)[:, None, None, None]
    channels = np.arange(c)[None, :, None, None]
    np.add.at(dx, (images, channels, argmax), dout)
    return dx.reshape(n, c, h, w)


def avgpool2d_forward(x, kernel_size, stride=None, padding=0):
    """Mean of every window, zero padding included in the count; parameters as
    :func:`maxpool2d_forward`, the cache ``(x.shape, kernel, stride, padding, x.dtype)``.

    Shape
    -----
    (N, C, H, W) -> (N, C, H_out, W_out), ``H_out = (H + 2 * P - K_h) // S + 1``.

    Backward
    --------
    Every pixel of window ``(i, j)`` receives ``dout[n, c, i, j] / (K_h * K_w)``
    (:func:`avgpool2d_backward`).
    """
    kernel, stride, padding, _ = check_pooling(x, kernel_size, stride, padding, "avg_pool2d")
    out_hw, windows = _windows(x.shape, kernel, stride, padding)
    out = np.empty(x.shape[:2] + out_hw, dtype=x.dtype)
    for i, j, rows, cols in windows:                # padding is zeros: adds nothing
        out[:, :, i, j] = x[:, :, rows, cols].sum(axis=(2, 3)) / (kernel[0] * kernel[1])
    return out, (x.shape, kernel, stride, padding, x.dtype)


def avgpool2d_backward(dout, cache, *, layer="avgpool2d_backward"):
    """Gradient of :func:`avgpool2d_forward`: dout (N, C, H_out, W_out) -> dx (N, C, H, W).

    Backward
    --------
    ``dx[window (i, j)] += dout[n, c, i, j] / (K_h * K_w)`` for every window (the part of
    the window in the padding has no pixel to receive its share).
    """
    x_shape, kernel, stride, padding, dtype = cache
    out_hw, windows = _windows(x_shape, kernel, stride, padding)
    dout = check_grad(dout, tuple(x_shape[:2]) + out_hw, dtype, layer)
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for i, j, rows, cols in windows:
        dx[:, :, rows, cols] += dout[:, :, i:i + 1, j:j + 1] / (kernel[0] * kernel[1])
    return dx
