"""2D convolution, the textbook way: first the definition as loops, then im2col.

Deep learning's "convolution" is cross-correlation (the kernel is not flipped)::

    out[n, f, i, j] = b[f] + sum_{c, u, v} w[f, c, u, v] * x_pad[n, c, S*i + u, S*j + v]

* :func:`conv2d_forward_loops` / :func:`conv2d_backward_loops`: the formula, one output
  number at a time (tiny inputs only);
* :func:`conv2d_forward` / :func:`conv2d_backward`: im2col by NumPy indexing, ONE matrix
  product for the whole batch, and col2im with ``np.add.at``.
"""

import numpy as np

from ..checks import check_grad, pair
from ..functional.conv import check_conv2d_arguments

__all__ = ["conv2d_forward_loops", "conv2d_backward_loops", "conv2d_forward",
           "conv2d_backward", "im2col_indices", "im2col", "col2im"]


def _pad(x, padding):
    """Surround every image with ``padding = (P_h, P_w)`` zeros."""
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def _output_hw(x_pad, w, stride):
    """``H_out = (H + 2P - K_h) // S + 1``, on the padded height ``H + 2P`` (W likewise)."""
    return ((x_pad.shape[2] - w.shape[2]) // stride[0] + 1,
            (x_pad.shape[3] - w.shape[3]) // stride[1] + 1)


def conv2d_forward_loops(x, w, b=None, stride=1, padding=0):
    """Convolution straight from its definition, one output number at a time.

    ``stride`` and ``padding`` are ints or (int, int) pairs; returns ``(out, cache)``, the
    cache ``(x_pad, w, x.shape, stride, padding, has_bias)``, as functional's.

    Shape
    -----
    x (N, C_in, H, W), w (C_out, C_in, K_h, K_w), b (C_out,) or None
    -> out (N, C_out, H_out, W_out), ``H_out = (H + 2 * P_h - K_h) // S_h + 1`` (W likewise).

    Backward
    --------
    ``db[f] = sum dout[:, f]``; ``dw[f] += dout[n, f, i, j] * window``;
    ``dx_pad[n, :, window] += dout[n, f, i, j] * w[f]`` (:func:`conv2d_backward_loops`).
    """
    stride, padding = pair(stride, "stride"), pair(padding, "padding")
    (sh, sw), (kh, kw) = stride, w.shape[2:]
    x_pad = _pad(x, padding)
    out_h, out_w = _output_hw(x_pad, w, stride)
    out = np.zeros((x.shape[0], w.shape[0], out_h, out_w), dtype=np.result_type(x, w))
    for n in range(x.shape[0]):
        for f in range(w.shape[0]):
            for i in range(out_h):
                for j in range(out_w):
                    window = x_pad[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[n, f, i, j] = np.sum(window * w[f]) + (0 if b is None else b[f])
    return out, (x_pad, w, x.shape, stride, padding, b is not None)


def _checked_dout(dout, cache, layer):
    """``dout`` checked against forward's output, as functional checks it."""
    x_pad, w, x_shape, stride = cache[:4]
    out_shape = (x_shape[0], w.shape[0]) + _output_hw(x_pad, w, stride)
    return check_grad(dout, out_shape, x_pad.dtype, layer)


def conv2d_backward_loops(dout, cache, *, layer="conv2d_backward"):
    """Gradients of :func:`conv2d_forward_loops`, one output number at a time.

    Each ``out[n, f, i, j]`` used one window of ``x_pad`` and all of ``w[f]``, so its
    gradient ``dout[n, f, i, j]`` flows back to exactly those numbers.

    Shape
    -----
    dout (N, C_out, H_out, W_out) -> dx, dw, db of the shapes of x, w, b (db None without
    a bias).

    Backward
    --------
    ::

        db[f]                            = sum_{n, i, j} dout[n, f, i, j]
        dw[f]                           += dout[n, f, i, j] * x_pad[n, :, window(i, j)]
        dx_pad[n, :, window(i, j)]      += dout[n, f, i, j] * w[f]
        dx = dx_pad without its padding
    """
    dout = _checked_dout(dout, cache, layer)
    x_pad, w, x_shape, (sh, sw), (ph, pw), has_bias = cache
    kh, kw = w.shape[2:]
    dx_pad, dw = np.zeros_like(x_pad, dtype=dout.dtype), np.zeros_like(w, dtype=dout.dtype)
    for n in range(dout.shape[0]):
        for f in range(dout.shape[1]):
            for i in range(dout.shape[2]):
                for j in range(dout.shape[3]):
                    rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
                    dw[f] += dout[n, f, i, j] * x_pad[n, :, rows, cols]
                    dx_pad[n, :, rows, cols] += dout[n, f, i, j] * w[f]
    db = dout.sum(axis=(0, 2, 3)) if has_bias else None
    return dx_pad[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]], dw, db


def im2col_indices(channels, kh, kw, out_h, out_w, stride):
    """Where each entry of ``cols`` comes from in one padded image.

    Row ``r = (c, u, v)`` of ``cols`` (C*K_h*K_w rows) and column ``p = (i, j)``
    (H_out*W_out columns) hold ``x_pad[c, S_h*i + u, S_w*j + v]``. Returns the three
    index arrays ``(c, rows, cols)``, each of shape (C*K_h*K_w, H_out*W_out).
    """
    c, u, v = np.meshgrid(np.arange(channels), np.arange(kh), np.arange(kw), indexing="ij")
    i, j = np.meshgrid(np.arange(out_h), np.arange(out_w), indexing="ij")
    c, u, v = c.reshape(-1, 1), u.reshape(-1, 1), v.reshape(-1, 1)
    i, j = i.reshape(1, -1), j.reshape(1, -1)
    return c, stride[0] * i + u, stride[1] * j + v


def im2col(x_pad, kh, kw, stride):
    """Every K_h x K_w window of every image as one column.

    (N, C, H_pad, W_pad) -> (C*K_h*K_w, N*H_out*W_out); column ``n*H_out*W_out + i*W_out + j``
    is window ``(i, j)`` of image ``n``.
    """
    _n, c, h_pad, w_pad = x_pad.shape
    out_h, out_w = (h_pad - kh) // stride[0] + 1, (w_pad - kw) // stride[1] + 1
    ch, rows, cols = im2col_indices(c, kh, kw, out_h, out_w, stride)
    windows = x_pad[:, ch, rows, cols]                   # (N, C*K_h*K_w, H_out*W_out)
    return windows.transpose(1, 0, 2).reshape(c * kh * kw, -1)


def col2im(dcols, x_pad_shape, kh, kw, stride):
    """The transpose of :func:`im2col`: add every entry of ``dcols`` back onto the padded
    pixel it was copied from. A pixel in several windows collects several contributions,
    which is why this is ``np.add.at`` (an unbuffered ``+=``) and not an assignment.

    (C*K_h*K_w, N*H_out*W_out) -> (N, C, H_pad, W_pad)
    """
    n, c, h_pad, w_pad = x_pad_shape
    out_h, out_w = (h_pad - kh) // stride[0] + 1, (w_pad - kw) // stride[1] + 1
    ch, rows, cols = im2col_indices(c, kh, kw, out_h, out_w, stride)
    windows = dcols.reshape(c * kh * kw, n, out_h * out_w).transpose(1, 0, 2)
    dx_pad = np.zeros(x_pad_shape, dtype=dcols.dtype)
    np.add.at(dx_pad, (slice(None), ch, rows, cols), windows)
    return dx_pad


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    """Convolution as im2col and ONE matrix product for the whole batch; parameters,
    returns and shapes as :func:`conv2d_forward_loops`, errors as
    :func:`minitorch_cv.functional.conv2d_forward`.

    ::

        cols = im2col(x_pad)                      (C_in*K_h*K_w, N*H_out*W_out)
        W2   = w.reshape(C_out, C_in*K_h*K_w)
        out  = W2 @ cols + b                      (C_out, N*H_out*W_out), then NCHW

    Backward
    --------
    ``dW2 = dout2 @ cols.T``, ``dx = col2im(W2.T @ dout2)``, ``db = dout2.sum(axis=1)``
    (:func:`conv2d_backward`).
    """
    stride, padding = check_conv2d_arguments(x, w, b, stride, padding)
    f, _c, kh, kw = w.shape
    x_pad = _pad(x, padding)
    out_h, out_w = _output_hw(x_pad, w, stride)
    cols = im2col(x_pad, kh, kw, stride)
    out = w.reshape(f, -1) @ cols                           # the one matrix product
    if b is not None:
        out += b.reshape(f, 1)
    out = out.reshape(f, x.shape[0], out_h, out_w).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out), (x_pad, w, x.shape, stride, padding, b is not None)


def conv2d_backward(dout, cache, need_dx=True, need_dw=True, *, layer="conv2d_backward"):
    """Gradients of :func:`conv2d_forward`: two matrix products and col2im.

    Returns and shapes as :func:`conv2d_backward_loops`; ``need_dx=False``
    (``need_dw=False``) gives None for dx (dw and db), as the fast function does.

    Backward
    --------
    With ``dout2 = dout`` laid out as (C_out, N*H_out*W_out), the columns in im2col's order::

        db    = dout2.sum(axis=1)
        dW2   = dout2 @ cols.T                    (C_out, C_in*K_h*K_w) -> dw
        dcols = W2.T @ dout2                      (C_in*K_h*K_w, N*H_out*W_out)
        dx    = col2im(dcols), the padding cropped off
    """
    dout = _checked_dout(dout, cache, layer)
    x_pad, w, x_shape, stride, (ph, pw), has_bias = cache
    f, _c, kh, kw = w.shape
    dout2 = dout.transpose(1, 0, 2, 3).reshape(f, -1)
    cols = im2col(x_pad, kh, kw, stride)                    # rebuilt, not cached
    dw = (dout2 @ cols.T).reshape(w.shape)
    dcols = w.reshape(f, -1).T @ dout2
    dx_pad = col2im(dcols, x_pad.shape, kh, kw, stride)
    db = dout2.sum(axis=1) if has_bias else None
    dx = dx_pad[:, :, ph:ph + x_shape[2], pw:pw + x_shape[3]]
    return (dx if need_dx else None), (dw if need_dw else None), (db if need_dw else None)
