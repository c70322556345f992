"""2D convolution (deep learning's, i.e. cross-correlation) as im2col + one matrix product.

Forward::

    out[n, f, oh, ow] = b[f] + sum_{c, i, j} w[f, c, i, j] * x_pad[n, c, oh*s + i, ow*s + j]

im2col lays every window of every image out as a column of ``cols``
(C*K_h*K_w, N*H_out*W_out), so the whole batch is one matrix product::

    out2 = W2 @ cols + b          W2 = w.reshape(F, C*K_h*K_w),  out2: (F, N*H_out*W_out)
    out  = out2 reshaped to (F, N, H_out, W_out), then axes 0 and 1 swapped (NCHW)

Backward, given ``dout = dL/dout`` (N, F, H_out, W_out) and ``dout2`` its (F, N*H_out*W_out)
layout::

    db    = sum over n, oh, ow of dout[n, f, oh, ow]
    dW2   = dout2 @ cols.T                          (F, C*K_h*K_w)
    dcols = W2.T @ dout2                            (C*K_h*K_w, N*H_out*W_out)
    dx    = col2im(dcols)                           (N, C, H, W)
"""

import numpy as np

from ..kernels.im2col import col2im, im2col, output_size
from ._checks import check_window, pair

__all__ = ["conv2d_forward", "conv2d_backward"]


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    """Convolve a batch with a filter bank.

    Parameters
    ----------
    x : ndarray (N, C_in, H, W)
    w : ndarray (C_out, C_in, K_h, K_w)
    b : ndarray (C_out,) or None
    stride, padding : int or (int, int)

    Returns
    -------
    out : ndarray (N, C_out, H_out, W_out),
        ``H_out = (H + 2 * padding - K_h) // stride + 1`` (W likewise)
    cache : tuple
        What :func:`conv2d_backward` needs: the columns, the weights, the shapes.
    """
    stride, padding = pair(stride, "stride"), pair(padding, "padding")
    n, c, h, wd = x.shape
    f, c_w, kh, kw = w.shape
    if c != c_w:
        raise ValueError(f"conv2d: input has {c} channels, weight expects {c_w} "
                         f"(x {x.shape}, w {w.shape})")
    check_window((h, wd), (kh, kw), stride, padding, "conv2d")
    out_h = output_size(h, kh, stride[0], padding[0])
    out_w = output_size(wd, kw, stride[1], padding[1])
    cols = im2col(x, (kh, kw), stride, padding)             # (C*K_h*K_w, N*H_out*W_out)
    w2 = w.reshape(f, c * kh * kw)
    out2 = w2 @ cols                                         # (F, N*H_out*W_out)
    if b is not None:
        out2 += b.reshape(f, 1)
    out = out2.reshape(f, n, out_h, out_w).transpose(1, 0, 2, 3)
    cache = (cols, w, x.shape, stride, padding, b is not None)
    return np.ascontiguousarray(out), cache


def conv2d_backward(dout, cache, need_dx=True, need_dw=True):
    """Gradients of :func:`conv2d_forward`.

    Parameters
    ----------
    dout : ndarray (N, C_out, H_out, W_out)
    cache : from :func:`conv2d_forward`
    need_dx, need_dw : bool
        Skip the input (or weight and bias) gradient when nobody needs it.

    Returns
    -------
    dx : ndarray (N, C_in, H, W) or None
    dw : ndarray (C_out, C_in, K_h, K_w) or None
    db : ndarray (C_out,) or None (also None when the layer has no bias)
    """
    cols, w, x_shape, stride, padding, has_bias = cache
    f = dout.shape[1]
    dout2 = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(f, -1)  # (F, N*H_o*W_o)
    w2 = w.reshape(f, -1)
    dx = dw = db = None
    if need_dw:
        dw = (dout2 @ cols.T).reshape(w.shape)
        if has_bias:
            db = dout2.sum(axis=1)
    if need_dx:
        dcols = w2.T @ dout2                                 # (C*K_h*K_w, N*H_out*W_out)
        dx = col2im(dcols, x_shape, w.shape[2:], stride, padding)
    return dx, dw, db
