"""conv2d as a student writes it from the textbook: im2col by NumPy indexing, ONE matrix
product for the whole batch, col2im with np.add.at (an unbuffered +=: windows overlap)."""

import numpy as np


def _indices(c, kh, kw, out_h, out_w, stride):
    """(channel, row, column) of x_pad for every entry of the (C*K*K, H_out*W_out) columns."""
    ch, u, v = np.meshgrid(np.arange(c), np.arange(kh), np.arange(kw), indexing="ij")
    i, j = np.meshgrid(np.arange(out_h), np.arange(out_w), indexing="ij")
    ch, u, v = ch.reshape(-1, 1), u.reshape(-1, 1), v.reshape(-1, 1)
    return ch, stride * i.reshape(1, -1) + u, stride * j.reshape(1, -1) + v


def _im2col(x_pad, kh, kw, out_h, out_w, stride):
    """Every window as a column: (C*K*K, N*H_out*W_out)."""
    c = x_pad.shape[1]
    ch, rows, cols = _indices(c, kh, kw, out_h, out_w, stride)
    windows = x_pad[:, ch, rows, cols]                  # (N, C*K*K, H_out*W_out)
    return windows.transpose(1, 0, 2).reshape(c * kh * kw, -1)


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    n, _, h, wd = x.shape
    f, _, kh, kw = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out_h = (h + 2 * padding - kh) // stride + 1
    out_w = (wd + 2 * padding - kw) // stride + 1
    cols = _im2col(x_pad, kh, kw, out_h, out_w, stride)
    out = w.reshape(f, -1) @ cols                       # (F, N*H_out*W_out)
    if b is not None:
        out += b.reshape(f, 1)
    out = out.reshape(f, n, out_h, out_w).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out), (x_pad, w, b is not None, stride, padding, x.shape)


def conv2d_backward(dout, cache):
    x_pad, w, has_bias, stride, padding, (n, c, h, wd) = cache
    f, _, kh, kw = w.shape
    out_h, out_w = dout.shape[2:]
    dout2 = dout.transpose(1, 0, 2, 3).reshape(f, -1)   # (F, N*H_out*W_out)
    cols = _im2col(x_pad, kh, kw, out_h, out_w, stride)
    dw = (dout2 @ cols.T).reshape(w.shape)
    db = dout2.sum(axis=1) if has_bias else None
    dcols = w.reshape(f, -1).T @ dout2                  # (C*K*K, N*H_out*W_out)
    ch, rows, cols_idx = _indices(c, kh, kw, out_h, out_w, stride)
    windows = dcols.reshape(c * kh * kw, n, out_h * out_w).transpose(1, 0, 2)
    dx_pad = np.zeros(x_pad.shape, dtype=dout.dtype)
    np.add.at(dx_pad, (slice(None), ch, rows, cols_idx), windows)
    return dx_pad[:, :, padding:padding + h, padding:padding + wd], dw, db
