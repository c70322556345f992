"""2D convolution (deep learning's, i.e. cross-correlation) as im2col + matrix products.

The formulas are the textbook version's (:mod:`minitorch_cv.reference.conv`), applied to
groups of a few images: each group's ``cols`` (C*K_h*K_w, g*H_out*W_out) is still in the
cache when its ONE matrix product reads it, and a group holds just enough images for
``MIN_COLUMNS`` columns (BLAS is slow on thinner matrices). Groups start at multiples of
the group size, so every product is the same on any number of threads. Backward rebuilds
``cols`` rather than keep K_h*K_w copies of the input (more: Conv2d in docs/layers.md).
"""

import numpy as np

from .._memory import work_buffer
from ..checks import check_grad, check_kernel_dtype, check_window, pair
from ..kernels.im2col import (
    col2im_padded_compiled,
    im2col_padded_compiled,
    output_size,
    pad_compiled,
)
from ..kernels.parallel import parallel_over

__all__ = ["conv2d_forward", "conv2d_backward", "check_conv2d_arguments", "MIN_COLUMNS",
           "PARTIAL_SUMS"]

MIN_COLUMNS = 256
PARTIAL_SUMS = 8          # dW is summed in at most this many parts: at most 8 threads share it


def _images_per_group(out_positions: int) -> int:
    """Fewest images whose windows fill at least MIN_COLUMNS columns."""
    return max(1, -(-MIN_COLUMNS // out_positions))


def check_conv2d_arguments(x, w, b, stride, padding):
    """What :func:`conv2d_forward` refuses, refused (the textbook path too); returns
    ``stride`` and ``padding`` as pairs."""
    for name, a, ndim in (("x", x, 4), ("w", w, 4)) + ((("b", b, 1),) if b is not None else ()):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"conv2d: expected {name} as a NumPy array, got {type(a).__name__}")
        if a.ndim != ndim:
            raise ValueError(f"conv2d: expected {name} of rank {ndim}, got shape {a.shape}")
        check_kernel_dtype(a, f"conv2d ({name})")
    if w.dtype != x.dtype or (b is not None and b.dtype != x.dtype):
        raise TypeError(f"conv2d: x, w and b must have one dtype, got x {x.dtype}, "
                        f"w {w.dtype}, b {None if b is None else b.dtype}")
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"conv2d: expected b of shape ({w.shape[0]},), got {b.shape}")
    if w.shape[2] < 1 or w.shape[3] < 1:
        raise ValueError(f"conv2d: the kernel must be at least 1x1, got w {w.shape}")
    stride = pair(stride, "stride", "conv2d", minimum=1)
    padding = pair(padding, "padding", "conv2d", minimum=0)
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels, weight expects "
                         f"{w.shape[1]} (x {x.shape}, w {w.shape})")
    check_window(x.shape[2:], w.shape[2:], stride, padding, "conv2d")
    return stride, padding


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    """Convolve a batch with a filter bank (the textbook version, with the formulas:
    :func:`minitorch_cv.reference.conv2d_forward`); ``stride`` and ``padding`` are ints or
    (int, int) pairs. The cache is ``(x_pad, w, x.shape, stride, padding, has_bias)``.

    Shape
    -----
    x (N, C_in, H, W), w (C_out, C_in, K_h, K_w), b (C_out,) or None
    -> out (N, C_out, H_out, W_out), ``H_out = (H + 2 * padding - K_h) // stride + 1``.

    Raises
    ------
    TypeError
        Non-arrays, dtypes other than float32/float64, or x, w and b of different dtypes.
    ValueError
        Wrong ranks, channel counts that disagree, or a window larger than the padded input.
    """
    stride, padding = check_conv2d_arguments(x, w, b, stride, padding)
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    out_h = output_size(h, kh, stride[0], padding[0])
    out_w = output_size(wd, kw, stride[1], padding[1])
    dtype = x.dtype                             # w's and b's too (checked)
    x = np.ascontiguousarray(x)
    padded = padding != (0, 0)                  # the threads copy their images into x_pad
    x_pad = np.zeros((n, c, h + 2 * padding[0], wd + 2 * padding[1]), dtype) if padded else x
    w2 = np.ascontiguousarray(w.reshape(f, c * kh * kw), dtype=dtype)
    bias = None if b is None else np.asarray(b, dtype=dtype).reshape(f, 1)
    out = np.empty((n, f, out_h * out_w), dtype=dtype)
    group = _images_per_group(out_h * out_w)
    rows = c * kh * kw

    def forward_images(lo, hi):                 # lo is a multiple of group: whole groups
        if padded:
            pad_compiled(x[lo:hi], x_pad[lo:hi], *padding)
        for g0 in range(lo, hi, group):
            g1 = min(g0 + group, hi)
            columns = (g1 - g0) * out_h * out_w
            cols = work_buffer("conv2d.cols", (rows, columns), dtype)
            im2col_padded_compiled(x_pad[g0:g1], cols, kh, kw, *stride)
            if g1 - g0 == 1:
                np.matmul(w2, cols, out=out[g0])            # (F, H_out*W_out), in place
            else:
                product = work_buffer("conv2d.product", (f, columns), dtype)
                np.matmul(w2, cols, out=product)
                out[g0:g1] = product.reshape(f, g1 - g0, -1).transpose(1, 0, 2)
        if bias is not None:
            out[lo:hi] += bias

    parallel_over(forward_images, n, block=group)
    cache = (x_pad, w, x.shape, stride, padding, b is not None)
    return out.reshape(n, f, out_h, out_w), cache


def conv2d_backward(dout, cache, need_dx=True, need_dw=True, *, layer="conv2d_backward"):
    """Gradients of :func:`conv2d_forward` from dout (N, C_out, H_out, W_out): dx, dw and
    db of the shapes of x, w and b (formulas: :func:`minitorch_cv.reference.conv2d_backward`,
    with ``dW2`` summed over the groups).

    ``need_dx=False`` (``need_dw=False``) skips the input (weight and bias) gradient and
    returns None for it; db is None also without a bias. Errors name ``layer``.
    ``dout`` of another float dtype is converted; another shape or kind is a ValueError or
    TypeError.
    """
    x_pad, w, x_shape, stride, padding, has_bias = cache
    out_shape = (x_shape[0], w.shape[0]) + tuple(
        output_size(s, k, st, p) for s, k, st, p in zip(x_shape[2:], w.shape[2:], stride, padding))
    dout = check_grad(dout, out_shape, x_pad.dtype, layer)
    n, f = dout.shape[:2]
    dtype = x_pad.dtype
    dout3 = np.ascontiguousarray(dout, dtype=dtype).reshape(n, f, -1)   # (N, F, H_o*W_o)
    w2_t = np.ascontiguousarray(w.reshape(f, -1).T, dtype=dtype)        # (C*K_h*K_w, F)
    dx = np.empty(x_shape, dtype=dtype) if need_dx else None
    group = _images_per_group(dout3.shape[2])
    # dW2 in at most PARTIAL_SUMS partial sums of consecutive groups ("chunks", fixed by the
    # batch alone), then summed in chunk order: the same additions on any number of threads
    n_groups = -(-n // group)
    chunk = group * max(1, -(-n_groups // PARTIAL_SUMS))
    partial_dw2_t = np.empty((-(-n // chunk),) + w2_t.shape, dtype=dtype) if need_dw else None

    def backward_images(lo, hi):                # lo is a multiple of chunk: whole chunks
        for g0 in range(lo, hi, group):
            g1 = min(g0 + group, hi)
            dout_g = _group_columns(dout3, g0, g1)                     # (F, g*H_o*W_o)
            if need_dw:
                _weight_gradient(x_pad[g0:g1], dout_g, w.shape[2:], stride,
                                 partial_dw2_t[g0 // chunk], add=g0 % chunk != 0)
            if need_dx:
                _input_gradient(w2_t, dout_g, x_pad.shape, w.shape[2:], stride, padding,
                                dx[g0:g1])

    parallel_over(backward_images, n, block=chunk)
    dw = db = None
    if need_dw:
        dw = np.ascontiguousarray(np.sum(partial_dw2_t, axis=0).T).reshape(w.shape)
        if has_bias:
            db = dout3.sum(axis=(0, 2))
    return dx, dw, db


def _group_columns(dout3, g0, g1):
    """``dout`` of images ``g0:g1`` as (F, g*H_out*W_out), in im2col's column order."""
    if g1 - g0 == 1:
        return dout3[g0]
    n_images, (_, f, positions) = g1 - g0, dout3.shape
    dout_g = work_buffer("conv2d_backward.dout", (f, n_images * positions), dout3.dtype)
    dout_g.reshape(f, n_images, positions)[...] = dout3[g0:g1].transpose(1, 0, 2)
    return dout_g


def _weight_gradient(x_pad_g, dout_g, kernel, stride, dw2_t, add):
    """dW2.T of one group, ``cols @ dout_g.T``, written into ``dw2_t`` or added to it
    (transposed: BLAS runs it faster than ``dout_g @ cols.T`` here, docs/results.md)."""
    cols = work_buffer("conv2d_backward.cols", (dw2_t.shape[0], dout_g.shape[1]), dw2_t.dtype)
    im2col_padded_compiled(x_pad_g, cols, *kernel, *stride)
    # a chunk's first group writes into dw2_t; the others add their product to it
    product = work_buffer("conv2d_backward.product", dw2_t.shape, dw2_t.dtype) if add else dw2_t
    np.matmul(cols, dout_g.T, out=product)
    if add:
        dw2_t += product


def _input_gradient(w2_t, dout_g, x_pad_shape, kernel, stride, padding, dx_g):
    """dx of one group into ``dx_g``: ``dcols = W2.T @ dout_g``, col2im into a padded
    gradient, the padding cropped off."""
    dtype = w2_t.dtype
    dcols = work_buffer("conv2d_backward.dcols", (w2_t.shape[0], dout_g.shape[1]), dtype)
    np.matmul(w2_t, dout_g, out=dcols)                          # (C*K_h*K_w, g*H_o*W_o)
    dx_pad = work_buffer("conv2d_backward.dx_pad", (len(dx_g),) + x_pad_shape[1:], dtype)
    dx_pad.fill(0)
    col2im_padded_compiled(dcols, dx_pad, *kernel, *stride)
    (ph, pw), (h, w) = padding, dx_g.shape[2:]
    dx_g[...] = dx_pad[:, :, ph:ph + h, pw:pw + w]              # crop the padding
