"""Hot loops, compiled with numba, each beside the plain version a lesson reads.

See :mod:`minitorch_cv.kernels.im2col`, :mod:`minitorch_cv.kernels.pooling` and
:mod:`minitorch_cv.kernels.activation`; :mod:`minitorch_cv.kernels.parallel` spreads them
over the CPU cores, one slice of the batch per thread.
"""

from .activation import relu_backward_compiled, relu_backward_loops, relu_backward_reference
from .im2col import (
                     col2im,
                     col2im_loops,
                     col2im_padded_compiled,
                     col2im_padded_loops,
                     col2im_reference,
                     im2col,
                     im2col_loops,
                     im2col_padded_compiled,
                     im2col_padded_loops,
                     im2col_reference,
                     pad_compiled,
                     pad_loops,
)
from .pooling import (
                     avgpool2d_backward_compiled,
                     avgpool2d_backward_loops,
                     avgpool2d_backward_reference,
                     avgpool2d_forward_compiled,
                     avgpool2d_forward_loops,
                     avgpool2d_forward_reference,
                     maxpool2d_backward_compiled,
                     maxpool2d_backward_loops,
                     maxpool2d_backward_reference,
                     maxpool2d_forward_compiled,
                     maxpool2d_forward_loops,
                     maxpool2d_forward_reference,
                     maxpool2d_values_compiled,
                     maxpool2d_values_loops,
)

__all__ = ["im2col", "col2im", "im2col_loops", "col2im_loops", "im2col_reference", "col2im_reference", "im2col_padded_loops",
           "col2im_padded_loops", "im2col_padded_compiled", "col2im_padded_compiled",
           "pad_loops", "pad_compiled", "relu_backward_loops", "relu_backward_compiled",
           "relu_backward_reference",
           "maxpool2d_forward_loops", "maxpool2d_backward_loops",
           "maxpool2d_forward_compiled", "maxpool2d_backward_compiled",
           "maxpool2d_forward_reference", "maxpool2d_backward_reference",
           "maxpool2d_values_loops", "maxpool2d_values_compiled",
           "avgpool2d_forward_loops", "avgpool2d_backward_loops",
           "avgpool2d_forward_compiled", "avgpool2d_backward_compiled",
           "avgpool2d_forward_reference", "avgpool2d_backward_reference"]
