"""maxpool2d as a student writes it from the textbook: a loop over the output positions,
each window taken for the whole batch at once."""

import numpy as np


def maxpool2d_forward(x, kernel_size, stride=None, padding=0):
    k = kernel_size
    s = k if stride is None else stride
    n, c, h, w = x.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                   constant_values=-np.inf)
    oh, ow = (h + 2 * padding - k) // s + 1, (w + 2 * padding - k) // s + 1
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x_pad[:, :, i * s:i * s + k, j * s:j * s + k].max(axis=(2, 3))
    return out, (x, k, s, padding)


def maxpool2d_backward(dout, cache):
    x, k, s, p = cache
    n, c, h, w = x.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    dx_pad = np.zeros(x_pad.shape, dtype=dout.dtype)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            window = x_pad[:, :, i * s:i * s + k, j * s:j * s + k].reshape(n, c, -1)
            mask = np.zeros_like(window)
            np.put_along_axis(mask, window.argmax(axis=2)[..., None], 1.0, axis=2)
            dx_pad[:, :, i * s:i * s + k, j * s:j * s + k] += (
                mask * dout[:, :, i, j][..., None]).reshape(n, c, k, k)
    return dx_pad[:, :, p:p + h, p:p + w]
