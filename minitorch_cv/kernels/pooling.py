"""Max and average pooling loops.

Max pooling forward records *where* each maximum came from (the flat index ``ih * W + iw``),
so backward is a scatter: ``dx[n, c].flat[argmax[n, c, oh, ow]] += dout[n, c, oh, ow]``.
Ties, padding and NaN as in PyTorch and :func:`minitorch_cv.reference.maxpool2d_forward`;
average pooling counts the padding. Every kernel checks once, on entry, that its arrays
and window fit together (ValueError).
"""

import math

import numpy as np

from ._jit import compile_kernel

__all__ = ["maxpool2d_forward_loops", "maxpool2d_backward_loops",
           "maxpool2d_forward_compiled", "maxpool2d_backward_compiled",
           "maxpool2d_values_loops", "maxpool2d_values_compiled",
           "avgpool2d_forward_loops", "avgpool2d_backward_loops",
           "avgpool2d_forward_compiled", "avgpool2d_backward_compiled"]


def clipped_window(o, stride, pad, kernel, size):
    """Window ``o`` along one axis: ``(start, first, stop)``; it covers input positions
    ``start + k``, and the offsets ``first <= k < stop`` lie inside the image."""
    start = o * stride - pad
    return start, max(0, -start), min(kernel, size - start)


def check_window_geometry(x_shape, out_shape, kh, kw, sh, sw, ph, pw, max_padding):
    """Raise a ValueError unless ``out_shape`` is the pooling of ``x_shape`` by this window
    (``max_padding``: padding at most half the window, so that each holds a pixel)."""
    if kh < 1 or kw < 1 or sh < 1 or sw < 1 or ph < 0 or pw < 0:
        raise ValueError("pooling: kernel sizes and strides must be >= 1, padding >= 0")
    if max_padding and (ph > kh // 2 or pw > kw // 2):
        raise ValueError("pooling: padding must be at most half the kernel size")
    if x_shape[2] < 1 or x_shape[3] < 1:
        raise ValueError("pooling: the image must be at least 1x1")
    out_h, out_w = (x_shape[2] + 2 * ph - kh) // sh + 1, (x_shape[3] + 2 * pw - kw) // sw + 1
    if out_shape != (x_shape[0], x_shape[1], out_h, out_w) or out_h < 1 or out_w < 1:
        raise ValueError("pooling: the output does not have the shape this window gives")


def maxpool2d_forward_loops(x, out, argmax, kh, kw, sh, sw, ph, pw):
    """out[n,c,oh,ow] = max over the window; argmax holds the flat input index (or is None:
    the maxima alone, for inference; numba then compiles the index away).

    The window is clipped to the image; it starts from its first element, which also makes
    a window of -inf report that element.
    """
    check_window_geometry(x.shape, out.shape, kh, kw, sh, sw, ph, pw, True)
    if argmax is not None and argmax.shape != out.shape:
        raise ValueError("maxpool2d: argmax must have the shape of out")
    n_images, channels, height, width = x.shape
    out_h, out_w = out.shape[2], out.shape[3]
    for n in range(n_images):
        for c in range(channels):
            image = x[n, c]
            for oh in range(out_h):
                top, i0, i1 = clipped_window(oh, sh, ph, kh, height)
                for ow in range(out_w):
                    left, j0, j1 = clipped_window(ow, sw, pw, kw, width)
                    best = image[top + i0, left + j0]
                    best_index = (top + i0) * width + left + j0
                    for i in range(i0, i1):
                        row = image[top + i]
                        for j in range(j0, j1):
                            v = row[left + j]
                            if v > best or math.isnan(v):  # strict: ties keep the first
                                best = v
                                best_index = (top + i) * width + left + j
                    out[n, c, oh, ow] = best
                    if argmax is not None:
                        argmax[n, c, oh, ow] = best_index
    return out


def maxpool2d_values_loops(x, out, kh, kw, sh, sw, ph, pw):
    """The maxima of :func:`maxpool2d_forward_loops` without their positions (inference)."""
    return maxpool2d_forward_loops(x, out, None, kh, kw, sh, sw, ph, pw)


def maxpool2d_backward_loops(dout, argmax, dx):
    """Scatter-add ``dout`` to the recorded maxima; ``dx`` (N, C, H, W) starts at zero.
    One min/max pass first checks that every index lies in the image."""
    n_images, channels, height, width = dx.shape
    out_h, out_w = dout.shape[2], dout.shape[3]
    if argmax.shape != dout.shape or dout.shape[:2] != dx.shape[:2]:
        raise ValueError("maxpool2d_backward: dout, argmax and dx do not fit together")
    flat = argmax.ravel()                        # a view of a contiguous argmax: no copy
    lowest = highest = flat.dtype.type(0)
    for i in range(flat.size):
        lowest = min(lowest, flat[i])
        highest = max(highest, flat[i])
    if lowest < 0 or (flat.size > 0 and highest >= height * width):
        raise ValueError("maxpool2d_backward: argmax holds indices outside the image")
    dx_flat = dx.reshape(n_images, channels, height * width)    # argmax indexes H*W
    for n in range(n_images):
        for c in range(channels):
            for oh in range(out_h):
                for ow in range(out_w):
                    dx_flat[n, c, argmax[n, c, oh, ow]] += dout[n, c, oh, ow]
    return dx


def avgpool2d_forward_loops(x, out, kh, kw, sh, sw, ph, pw):
    """Window means: the sum over the window clipped to the image, divided by kh * kw."""
    check_window_geometry(x.shape, out.shape, kh, kw, sh, sw, ph, pw, False)
    n_images, channels, height, width = x.shape
    out_h, out_w = out.shape[2], out.shape[3]
    # float64 sums, compiled or not (a Python 0.0 would sum float32 inputs in float32)
    scale = np.float64(1.0 / (kh * kw))
    for n in range(n_images):
        for c in range(channels):
            for oh in range(out_h):
                top, i0, i1 = clipped_window(oh, sh, ph, kh, height)
                for ow in range(out_w):
                    left, j0, j1 = clipped_window(ow, sw, pw, kw, width)
                    total = np.float64(0.0)
                    for i in range(i0, i1):
                        for j in range(j0, j1):
                            total += x[n, c, top + i, left + j]
                    out[n, c, oh, ow] = total * scale
    return out


def avgpool2d_backward_loops(dout, dx, kh, kw, sh, sw, ph, pw):
    """Spread ``dout / (kh * kw)`` over each window; ``dx`` starts at zero."""
    check_window_geometry(dx.shape, dout.shape, kh, kw, sh, sw, ph, pw, False)
    n_images, channels, height, width = dx.shape
    out_h, out_w = dout.shape[2], dout.shape[3]
    scale = np.float64(1.0 / (kh * kw))         # float64, compiled or not (see forward)
    for n in range(n_images):
        for c in range(channels):
            for oh in range(out_h):
                top, i0, i1 = clipped_window(oh, sh, ph, kh, height)
                for ow in range(out_w):
                    left, j0, j1 = clipped_window(ow, sw, pw, kw, width)
                    g = dout[n, c, oh, ow] * scale
                    for i in range(i0, i1):
                        for j in range(j0, j1):
                            dx[n, c, top + i, left + j] += g
    return dx


clipped_window = compile_kernel(clipped_window)         # called by the compiled loops
check_window_geometry = compile_kernel(check_window_geometry)
maxpool2d_forward_compiled = compile_kernel(maxpool2d_forward_loops)
maxpool2d_backward_compiled = compile_kernel(maxpool2d_backward_loops)
avgpool2d_forward_compiled = compile_kernel(avgpool2d_forward_loops)
avgpool2d_backward_compiled = compile_kernel(avgpool2d_backward_loops)


def maxpool2d_values_compiled(x, out, kh, kw, sh, sw, ph, pw):
    """:func:`maxpool2d_values_loops` compiled: the compiled forward without argmax."""
    return maxpool2d_forward_compiled(x, out, None, kh, kw, sh, sw, ph, pw)
