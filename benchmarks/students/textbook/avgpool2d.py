import numpy as np


def avgpool2d_forward(x, kernel_size, stride=None, padding=0):
    k = kernel_size
    s = k if stride is None else stride
    n, c, h, w = x.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = (h + 2 * padding - k) // s + 1, (w + 2 * padding - k) // s + 1
    out = np.empty((n, c, oh, ow), dtype=x.dtype)
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = x_pad[:, :, i * s:i * s + k, j * s:j * s + k].mean(axis=(2, 3))
    return out, (x.shape, k, s, padding)


def avgpool2d_backward(dout, cache):
    (n, c, h, w), k, s, p = cache
    dx_pad = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=dout.dtype)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            dx_pad[:, :, i * s:i * s + k, j * s:j * s + k] += dout[:, :, i:i + 1, j:j + 1] / (k * k)
    return dx_pad[:, :, p:p + h, p:p + w]
