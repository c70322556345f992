"""Hot loops, compiled with numba, each beside the plain version a lesson reads.

See :mod:`minitorch_cv.kernels.im2col` and :mod:`minitorch_cv.kernels.pooling`.
"""

from .im2col import (
                     col2im,
                     col2im_compiled,
                     col2im_loops,
                     col2im_reference,
                     im2col,
                     im2col_compiled,
                     im2col_loops,
                     im2col_reference,
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
)

__all__ = ["im2col", "col2im", "im2col_loops", "col2im_loops", "im2col_compiled",
           "col2im_compiled", "im2col_reference", "col2im_reference",
           "maxpool2d_forward_loops", "maxpool2d_backward_loops",
           "maxpool2d_forward_compiled", "maxpool2d_backward_compiled",
           "maxpool2d_forward_reference", "maxpool2d_backward_reference",
           "avgpool2d_forward_loops", "avgpool2d_backward_loops",
           "avgpool2d_forward_compiled", "avgpool2d_backward_compiled",
           "avgpool2d_forward_reference", "avgpool2d_backward_reference"]
