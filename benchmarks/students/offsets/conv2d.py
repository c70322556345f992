"""conv2d with im2col and col2im written as a loop over the K*K kernel offsets.

For one offset (u, v) of the kernel, the pixels every window reads are ONE strided slice
of x_pad, x_pad[:, :, u:u + S*H_out:S, v:v + S*W_out:S]. So im2col is K*K slice copies and
col2im is K*K slice additions (+= on a slice adds each pixel once per offset, which is
exactly the overlap): no index arrays, no np.add.at.
"""

import numpy as np


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    s = stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out_h = (h + 2 * padding - kh) // s + 1
    out_w = (wd + 2 * padding - kw) // s + 1
    cols = np.empty((c, kh, kw, n, out_h, out_w), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            window = x_pad[:, :, u:u + s * out_h:s, v:v + s * out_w:s]   # (N, C, Ho, Wo)
            cols[:, u, v] = window.transpose(1, 0, 2, 3)
    cols = cols.reshape(c * kh * kw, -1)                # (C*K*K, N*Ho*Wo)
    out = w.reshape(f, -1) @ cols                       # (F, N*Ho*Wo)
    if b is not None:
        out += b.reshape(f, 1)
    out = out.reshape(f, n, out_h, out_w).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out), (x.shape, w, b is not None, stride, padding, cols)


def conv2d_backward(dout, cache):
    (n, c, h, wd), w, has_bias, s, padding, cols = cache
    f, _, kh, kw = w.shape
    out_h, out_w = dout.shape[2:]
    dout2 = dout.transpose(1, 0, 2, 3).reshape(f, -1)   # (F, N*Ho*Wo)
    dw = (dout2 @ cols.T).reshape(w.shape)
    db = dout2.sum(axis=1) if has_bias else None
    dcols = (w.reshape(f, -1).T @ dout2).reshape(c, kh, kw, n, out_h, out_w)
    dx_pad = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=dout.dtype)
    for u in range(kh):
        for v in range(kw):
            dx_pad[:, :, u:u + s * out_h:s, v:v + s * out_w:s] += \
                dcols[:, u, v].transpose(1, 0, 2, 3)
    return dx_pad[:, :, padding:padding + h, padding:padding + wd], dw, db
