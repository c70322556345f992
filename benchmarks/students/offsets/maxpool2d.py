"""maxpool2d as a loop over the K*K offsets of the window (not over the output positions).

Offset (u, v) of every window is one strided slice of x_pad, so the K*K candidates of all
windows are K*K slices; the maximum, its first position (row-major, as np.argmax) and the
backward's scatter are then whole-array operations.
"""

import numpy as np


def _candidates(x, k, s, padding):
    """(K*K, N, C, Ho, Wo): entry (u*K + v) holds offset (u, v) of every window."""
    h, w = x.shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                   constant_values=-np.inf)
    oh, ow = (h + 2 * padding - k) // s + 1, (w + 2 * padding - k) // s + 1
    return np.stack([x_pad[:, :, u:u + s * oh:s, v:v + s * ow:s]
                     for u in range(k) for v in range(k)])


def maxpool2d_forward(x, kernel_size, stride=None, padding=0):
    k = kernel_size
    s = k if stride is None else stride
    candidates = _candidates(x, k, s, padding)
    first = candidates.argmax(axis=0)                   # the first maximum of each window
    out = np.take_along_axis(candidates, first[None], axis=0)[0]
    return out, (x.shape, k, s, padding, first)


def maxpool2d_backward(dout, cache):
    (n, c, h, w), k, s, p, first = cache
    oh, ow = dout.shape[2:]
    dx_pad = np.zeros((n, c, h + 2 * p, w + 2 * p), dtype=dout.dtype)
    for u in range(k):
        for v in range(k):
            dx_pad[:, :, u:u + s * oh:s, v:v + s * ow:s] += dout * (first == u * k + v)
    return dx_pad[:, :, p:p + h, p:p + w]
