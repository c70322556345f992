"""The textbook versions of the layers: what a lesson reads first.

Plain NumPy, no numba, no threads, each function short enough for a slide, with exactly
the names, signatures and caches of :mod:`minitorch_cv.functional` (the fast path the
``nn`` layers run). The tests hold the two equal in float64. Example::

    from minitorch_cv import reference
    out, cache = reference.conv2d_forward(x, w, b, stride=1, padding=2)
    dx, dw, db = reference.conv2d_backward(dout, cache)
    with reference.use():               # every nn layer on these functions
        logits = model(x)

Slow on purpose: :func:`conv2d_forward_loops` is the definition as nested loops (tiny
inputs only); :func:`conv2d_forward` is im2col with ONE matrix product for the batch.
The optimizer steps (:func:`sgd_momentum_step`, :func:`adam_step`) are pure functions.
"""

from .activation import relu_backward, relu_forward
from .conv import (
    col2im,
    conv2d_backward,
    conv2d_backward_loops,
    conv2d_forward,
    conv2d_forward_loops,
    im2col,
)
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
from .optim import adam_step, sgd_momentum_step
from .pooling import avgpool2d_backward, avgpool2d_forward, maxpool2d_backward, maxpool2d_forward
from .switch import is_active, use

__all__ = ["conv2d_forward_loops", "conv2d_backward_loops", "conv2d_forward",
           "conv2d_backward", "im2col", "col2im", "maxpool2d_forward", "maxpool2d_backward",
           "avgpool2d_forward", "avgpool2d_backward", "batchnorm_forward",
           "batchnorm_backward", "dropout_forward", "dropout_backward", "linear_forward",
           "linear_backward", "relu_forward", "relu_backward", "cross_entropy_forward",
           "cross_entropy_backward", "mse_loss_forward", "mse_loss_backward",
           "l1_loss_forward", "l1_loss_backward", "sgd_momentum_step", "adam_step", "use",
           "is_active"]
