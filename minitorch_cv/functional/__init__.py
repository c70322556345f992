"""The math of every layer as pure forward/backward function pairs.

``*_forward(x, ...) -> (out, cache)`` computes the output and returns what the backward
pass needs; ``*_backward(dout, cache) -> gradients``. The classes in
:mod:`minitorch_cv.nn` only hold parameters, buffers and mode, and call these.
"""

# ruff: noqa: F401 -- re-exports: __all__, at the end, is built from the names imported here

from . import activation, conv, dropout, linear, loss, normalization, pooling
from .activation import (
                         leaky_relu_backward,
                         leaky_relu_forward,
                         log_softmax,
                         relu_backward,
                         relu_forward,
                         sigmoid_backward,
                         sigmoid_forward,
                         softmax_backward,
                         softmax_forward,
                         tanh_backward,
                         tanh_forward,
)
from .conv import conv2d_backward, conv2d_forward
from .dropout import dropout_backward, dropout_forward
from .linear import linear_backward, linear_forward
from .loss import (
                         cross_entropy_backward,
                         cross_entropy_forward,
                         l1_loss_backward,
                         l1_loss_forward,
                         mse_loss_backward,
                         mse_loss_forward,
)
from .normalization import batchnorm_backward, batchnorm_forward
from .pooling import (
                         adaptive_avgpool2d_backward,
                         adaptive_avgpool2d_forward,
                         avgpool2d_backward,
                         avgpool2d_forward,
                         maxpool2d_backward,
                         maxpool2d_forward,
)

__all__ = [name for module in (conv, pooling, normalization, dropout, linear, activation, loss)
           for name in module.__all__ if name in globals()]
