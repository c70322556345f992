"""Max and average pooling loops.

Max pooling forward records, for every output element, *where* its maximum came from
(the flat index ``ih * W + iw`` in the input image), so the backward pass is a scatter:
``dx[n, c].flat[argmax[n, c, oh, ow]] += dout[n, c, oh, ow]``. Ties go to the first
maximum in row-major order (strict ``>``), as in PyTorch. Padding counts as -infinity.
NaN wins, as in PyTorch (``v > best or v is NaN``): a window holding a NaN gives NaN, and
its gradient goes to the window's last NaN in row-major order.

Every kernel checks, once on entry, that the arrays and the window it is handed fit
together (:func:`check_window_geometry`, raising ValueError otherwise), so that no input
makes it read or write outside its arrays; the loops themselves carry no checks.

Average pooling (PyTorch's default ``count_include_pad=True``) divides every window sum
by K_h * K_w; its backward spreads ``dout / (K_h * K_w)`` evenly over the window.

As in :mod:`~minitorch_cv.kernels.im2col`, the ``*_loops`` functions are the source to
read and ``*_compiled`` the same functions compiled by numba (for one thread: the
functional layer runs them on one slice of the batch per thread). The tests hold them to
the textbook versions, :mod:`minitorch_cv.reference.pooling`.
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
    """Where window ``o`` lies along one axis: ``(start, first, stop)``.

    The window covers input positions ``start + k`` for kernel offsets ``k`` in
    ``[0, kernel)``, with ``start = o * stride - pad``; the offsets inside the image are
    ``first <= k < stop``. Padding is never read, so the loops over a window need no checks.
    """
    start = o * stride - pad
    return start, max(0, -start), min(kernel, size - start)


def check_window_geometry(x_shape, out_shape, kh, kw, sh, sw, ph, pw, max_padding):
    """Raise a ValueError unless ``out_shape`` is the pooling of ``x_shape`` by this window:
    sizes and strides >= 1, 0 <= padding, an image of at least 1x1 and the PyTorch output
    size. ``max_padding``: padding at most half the window (max pooling, whose windows must
    each hold at least one pixel of the image)."""
    if kh < 1 or kw < 1 or sh < 1 or sw < 1 or ph < 0 or pw < 0:
        raise ValueError("pooling: kernel sizes and strides must be >= 1, padding >= 0")
    if max_padding and (ph > kh // 2 or pw > kw // 2):
        raise ValueError("pooling: padding must be at most half the kernel size")
    if x_shape[2] < 1 or x_shape[3] < 1:
        raise ValueError("pooling: the image must be at least 1x1")
    if out_shape[0] != x_shape[0] or out_shape[1] != x_shape[1] \
            or out_shape[2] != (x_shape[2] + 2 * ph - kh) // sh + 1 \
            or out_shape[3] != (x_shape[3] + 2 * pw - kw) // sw + 1 or out_shape[2] < 1 \
            or out_shape[3] < 1:
        raise ValueError("pooling: the output does not have the shape this window gives")


def maxpool2d_forward_loops(x, out, argmax, kh, kw, sh, sw, ph, pw):
    """out[n,c,oh,ow] = max over the window; argmax holds the flat input index.

    The window is first clipped to the image (:func:`clipped_window`), so the innermost
    loops need no bounds checks; it starts from its first element, which also makes a
    window of -inf report that element. A NaN replaces the maximum (``or isnan(v)``) and
    is never replaced, as in PyTorch.
    """
    check_window_geometry(x.shape, out.shape, kh, kw, sh, sw, ph, pw, True)
    if argmax.shape[0] != out.shape[0] or argmax.shape[1] != out.shape[1] \
            or argmax.shape[2] != out.shape[2] or argmax.shape[3] != out.shape[3]:
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
                    argmax[n, c, oh, ow] = best_index
    return out


def maxpool2d_values_loops(x, out, kh, kw, sh, sw, ph, pw):
    """The maxima of :func:`maxpool2d_forward_loops` alone, without their positions: what
    inference needs (PyTorch computes no indices under ``no_grad`` either). Keeping only
    the running maximum is faster: no index to compute and store per window."""
    check_window_geometry(x.shape, out.shape, kh, kw, sh, sw, ph, pw, True)
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
                    for i in range(i0, i1):
                        row = image[top + i]
                        for j in range(j0, j1):
                            # not max(): spelled out, NaN handling is that of the forward
                            v = row[left + j]
                            best = v if (v > best or math.isnan(v)) else best
                    out[n, c, oh, ow] = best
    return out


def maxpool2d_backward_loops(dout, argmax, dx):
    """Scatter-add ``dout`` to the recorded maxima; ``dx`` (N, C, H, W) starts at zero.

    Before the scatter, one pass over ``argmax`` checks that every index lies in the image
    (a min/max reduction, not a test per write), so no argmax can write outside ``dx``.
    """
    n_images, channels, height, width = dx.shape
    out_h, out_w = dout.shape[2], dout.shape[3]
    if argmax.shape[0] != dout.shape[0] or argmax.shape[1] != dout.shape[1] \
            or argmax.shape[2] != out_h or argmax.shape[3] != out_w \
            or dout.shape[0] != n_images or dout.shape[1] != channels:
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
    """Window means, zero padding included in the count (count_include_pad=True): the sum
    runs over the window clipped to the image, the division by the whole kh * kw."""
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
maxpool2d_values_compiled = compile_kernel(maxpool2d_values_loops)
avgpool2d_forward_compiled = compile_kernel(avgpool2d_forward_loops)
avgpool2d_backward_compiled = compile_kernel(avgpool2d_backward_loops)
