"""Dropout (inverted): zero each element with probability ``p``, scale the rest by 1/(1-p)
(the formulas: :func:`minitorch_cv.reference.dropout_forward`). In evaluation mode the
layers do not call it: dropout is the identity there.
"""

import numpy as np

from ..checks import check_grad, check_input, check_real

__all__ = ["dropout_forward", "dropout_backward", "check_dropout_arguments"]


def dropout_forward(x, p, rng, channelwise=False):
    """Apply a fresh dropout mask drawn from ``rng``; ``p`` in [0, 1] is the probability of
    dropping, ``channelwise`` (Dropout2d) draws once per (n, c). The cache is
    ``(mask, x.shape)``.

    Shape
    -----
    x (any shape; (N, C, ...) for ``channelwise``) -> out of x's shape.
    """
    p = check_dropout_arguments(x, p, channelwise)
    mask_shape = x.shape[:2] + (1,) * (x.ndim - 2) if channelwise else x.shape
    if p >= 1.0:
        mask = np.zeros(mask_shape, dtype=x.dtype)
    else:
        u = rng.random(mask_shape, dtype=np.float32 if x.dtype == np.float32 else np.float64)
        mask = (u >= p).astype(x.dtype)
        mask *= x.dtype.type(1.0 / (1.0 - p))
    return x * mask, (mask, x.shape)


def check_dropout_arguments(x, p, channelwise=False):
    """What :func:`dropout_forward` refuses, refused (the textbook path too); ``p`` as a float."""
    check_input(x, np.ndim(x), "dropout")
    p = check_real(p, "p", "dropout", 0.0, 1.0)
    if channelwise and x.ndim < 2:
        raise ValueError(f"dropout2d: expected input (N, C, ...), got shape {x.shape}")
    return p


def dropout_backward(dout, cache, *, layer="dropout_backward"):
    """dx = dout * mask; ``dout`` must have the shape forward returned."""
    mask, x_shape = cache
    return check_grad(dout, x_shape, mask.dtype, layer) * mask
