"""Hot loops, compiled with numba: the fast path's kernels.

Each kernel is written once as plain loops (``*_loops``, the source to read) and compiled
by :func:`~minitorch_cv.kernels._jit.compile_kernel` (``*_compiled``). The tests hold them
equal to the textbook versions in :mod:`minitorch_cv.reference`;
:mod:`minitorch_cv.kernels.parallel` spreads them over the CPU cores.
"""

# ruff: noqa: F401 -- re-exports: __all__, at the end, is built from the names imported here

from . import activation, im2col, pooling
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

__all__ = [name for module in (im2col, activation, pooling) for name in module.__all__
           if name in globals()]
