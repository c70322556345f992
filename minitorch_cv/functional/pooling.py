"""Pooling: max, average (formulas: :mod:`minitorch_cv.reference.pooling`) and adaptive
average: to (H_o, W_o), bin ``i`` covers rows ``floor(i*H/H_o) .. ceil((i+1)*H/H_o) - 1``,
as in PyTorch.
"""

import numpy as np

from ..checks import (
    check_grad,
    check_input,
    check_kernel_dtype,
    check_pool_padding,
    check_window,
    pair,
)
from ..kernels.im2col import output_size
from ..kernels.parallel import parallel_over_batch
from ..kernels.pooling import (
    avgpool2d_backward_compiled,
    avgpool2d_forward_compiled,
    maxpool2d_backward_compiled,
    maxpool2d_forward_compiled,
    maxpool2d_values_compiled,
)

# A pooling forward does about four times the work per number of a memory-bound pass: worth
# two threads from 256 K numbers on (docs/results.md).
WINDOW_KERNEL_MIN_SIZE = 1 << 18

__all__ = ["maxpool2d_forward", "maxpool2d_backward", "avgpool2d_forward",
           "avgpool2d_backward", "adaptive_avgpool2d_forward", "adaptive_avgpool2d_backward",
           "check_pooling"]


def check_pooling(x, kernel_size, stride, padding, layer):
    """What the pooling forwards (the textbook ones too) refuse, refused; returns the
    kernel, stride and padding as pairs and the output (H, W)."""
    check_input(x, 4, layer, expected="(N, C, H, W)")
    check_kernel_dtype(x, layer)
    kernel = pair(kernel_size, "kernel_size", layer, minimum=1)
    stride = kernel if stride is None else pair(stride, "stride", layer, minimum=1)
    padding = pair(padding, "padding", layer, minimum=0)
    check_pool_padding(padding, kernel, layer)
    check_window(x.shape[2:], kernel, stride, padding, layer)
    out_hw = tuple(output_size(s, k, st, p)
                   for s, k, st, p in zip(x.shape[2:], kernel, stride, padding))
    return kernel, stride, padding, out_hw


def maxpool2d_forward(x, kernel_size, stride=None, padding=0, for_backward=True):
    """Max over windows. x (N, C, H, W) -> out (N, C, H_out, W_out).

    The cache holds each window's argmax (int32 flat indices into H*W), not the input;
    with ``for_backward=False`` (inference) it is None.
    """
    kernel, stride, padding, (oh, ow) = check_pooling(x, kernel_size, stride, padding, "max_pool2d")
    x = np.ascontiguousarray(x)
    out = np.empty(x.shape[:2] + (oh, ow), dtype=x.dtype)
    argmax = np.empty(out.shape, dtype=np.int32) if for_backward else None
    compiled, arrays = ((maxpool2d_forward_compiled, (x, out, argmax)) if for_backward
                        else (maxpool2d_values_compiled, (x, out)))      # inference: no argmax
    parallel_over_batch(compiled, arrays, *kernel, *stride, *padding,
                        min_size=WINDOW_KERNEL_MIN_SIZE)
    return out, ((argmax, x.shape, x.dtype) if for_backward else None)


def maxpool2d_backward(dout, cache, *, layer="maxpool2d_backward"):
    """dx[n, c, argmax] += dout[n, c, oh, ow]; zero elsewhere (``dout`` checked against
    forward's output: ValueError naming ``layer``; another float dtype converted)."""
    argmax, x_shape, dtype = cache
    dout = np.ascontiguousarray(check_grad(dout, argmax.shape, dtype, layer))
    dx = np.zeros(x_shape, dtype=dout.dtype)
    parallel_over_batch(maxpool2d_backward_compiled, (dout, argmax, dx))
    return dx


def avgpool2d_forward(x, kernel_size, stride=None, padding=0):
    """Mean over windows (padding counted, as PyTorch's count_include_pad=True)."""
    kernel, stride, padding, (oh, ow) = check_pooling(x, kernel_size, stride, padding, "avg_pool2d")
    out = np.empty(x.shape[:2] + (oh, ow), dtype=x.dtype)
    x = np.ascontiguousarray(x)
    parallel_over_batch(avgpool2d_forward_compiled, (x, out), *kernel, *stride, *padding,
                        min_size=WINDOW_KERNEL_MIN_SIZE)
    return out, (x.shape, kernel, stride, padding, x.dtype)


def avgpool2d_backward(dout, cache, *, layer="avgpool2d_backward"):
    """dx[window] += dout / (K_h * K_w) for every window (``dout`` checked as for max)."""
    x_shape, kernel, stride, padding, dtype = cache
    out_shape = tuple(x_shape[:2]) + tuple(
        output_size(s, k, st, p) for s, k, st, p in zip(x_shape[2:], kernel, stride, padding))
    dout = np.ascontiguousarray(check_grad(dout, out_shape, dtype, layer))
    dx = np.zeros(x_shape, dtype=dout.dtype)
    parallel_over_batch(avgpool2d_backward_compiled, (dout, dx), *kernel, *stride, *padding)
    return dx


def _bins(size, out_size):
    """(start, stop) of each adaptive bin along one axis, as PyTorch cuts them."""
    return [(i * size // out_size, -(-(i + 1) * size // out_size)) for i in range(out_size)]


def adaptive_avgpool2d_forward(x, output_size):
    """Average into a fixed (H_o, W_o) grid. x (N, C, H, W) -> (N, C, H_o, W_o)."""
    check_input(x, 4, "adaptive_avg_pool2d", expected="(N, C, H, W)")
    out_h, out_w = pair(output_size, "output_size", "adaptive_avg_pool2d", minimum=1)
    n, c, h, w = x.shape
    out = np.empty((n, c, out_h, out_w), dtype=x.dtype)
    for i, (r0, r1) in enumerate(_bins(h, out_h)):
        for j, (c0, c1) in enumerate(_bins(w, out_w)):
            out[:, :, i, j] = x[:, :, r0:r1, c0:c1].mean(axis=(2, 3))
    return out, (x.shape, (out_h, out_w), x.dtype)


def adaptive_avgpool2d_backward(dout, cache, *, layer="adaptive_avgpool2d_backward"):
    """Each bin's gradient divided evenly over the pixels of the bin (bins may overlap)."""
    x_shape, (out_h, out_w), dtype = cache
    dout = check_grad(dout, tuple(x_shape[:2]) + (out_h, out_w), dtype, layer)
    _n, _c, h, w = x_shape
    dx = np.zeros(x_shape, dtype=dout.dtype)
    for i, (r0, r1) in enumerate(_bins(h, out_h)):
        for j, (c0, c1) in enumerate(_bins(w, out_w)):
            area = (r1 - r0) * (c1 - c0)
            dx[:, :, r0:r1, c0:c1] += dout[:, :, i:i + 1, j:j + 1] / area
    return dx
