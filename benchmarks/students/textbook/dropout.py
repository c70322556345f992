import numpy as np


def dropout_forward(x, p, rng, channelwise=False):
    shape = x.shape[:2] + (1,) * (x.ndim - 2) if channelwise else x.shape
    if p >= 1:
        mask = np.zeros(shape, dtype=x.dtype)
    else:
        mask = (rng.random(shape, dtype=x.dtype) >= p).astype(x.dtype) / x.dtype.type(1 - p)
    return x * mask, mask


def dropout_backward(dout, mask):
    return dout * mask
