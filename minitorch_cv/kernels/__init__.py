"""Hot loops, compiled with numba: the fast path's kernels.

Each kernel is written once as plain loops (``*_loops``, the source to read) and compiled
by :func:`~minitorch_cv.kernels._jit.compile_kernel` (``*_compiled``; the same loops run
uncompiled under ``NUMBA_DISABLE_JIT=1``). The version a lesson reads first is the textbook
one in :mod:`minitorch_cv.reference`; the tests hold the kernels equal to it. See
:mod:`minitorch_cv.kernels.im2col`, :mod:`minitorch_cv.kernels.pooling`,
:mod:`minitorch_cv.kernels.activation` and :mod:`minitorch_cv.kernels.batchnorm`;
:mod:`minitorch_cv.kernels.parallel` spreads them over the CPU cores, one slice of the
batch per thread.
"""

from .activation import relu_backward_compiled, relu_backward_loops
from .im2col import (
    col2im_padded_compiled,
    col2im_padded_loops,
    im2col_padded_compiled,
    im2col_padded_loops,
    pad_compiled,
    pad_loops,
)
from .pooling import (
    avgpool2d_backward_compiled,
    avgpool2d_backward_loops,
    avgpool2d_forward_compiled,
    avgpool2d_forward_loops,
    maxpool2d_backward_compiled,
    maxpool2d_backward_loops,
    maxpool2d_forward_compiled,
    maxpool2d_forward_loops,
    maxpool2d_values_compiled,
    maxpool2d_values_loops,
)

__all__ = ["im2col_padded_loops", "col2im_padded_loops", "im2col_padded_compiled",
           "col2im_padded_compiled", "pad_loops", "pad_compiled", "relu_backward_loops",
           "relu_backward_compiled", "maxpool2d_forward_loops", "maxpool2d_backward_loops",
           "maxpool2d_forward_compiled", "maxpool2d_backward_compiled",
           "maxpool2d_values_loops", "maxpool2d_values_compiled",
           "avgpool2d_forward_loops", "avgpool2d_backward_loops",
           "avgpool2d_forward_compiled", "avgpool2d_backward_compiled"]
