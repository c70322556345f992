"""The math of every layer as pure forward/backward function pairs.

``*_forward(x, ...) -> (out, cache)`` computes the output and returns what the backward
pass needs; ``*_backward(dout, cache) -> gradients``. The classes in
:mod:`minitorch_cv.nn` only hold parameters, buffers and mode, and call these.
"""

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

__all__ = ["conv2d_forward", "conv2d_backward", "maxpool2d_forward", "maxpool2d_backward",
           "avgpool2d_forward", "avgpool2d_backward", "adaptive_avgpool2d_forward",
           "adaptive_avgpool2d_backward", "batchnorm_forward", "batchnorm_backward",
           "dropout_forward", "dropout_backward", "linear_forward", "linear_backward",
           "relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
           "tanh_forward", "tanh_backward", "sigmoid_forward", "sigmoid_backward",
           "softmax_forward", "softmax_backward", "log_softmax", "cross_entropy_forward",
           "cross_entropy_backward", "mse_loss_forward", "mse_loss_backward",
           "l1_loss_forward", "l1_loss_backward"]
