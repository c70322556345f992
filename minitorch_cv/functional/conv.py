"""2D convolution (deep learning's, i.e. cross-correlation) as im2col + one matrix product.

Forward, for each image n::

    out[n, f, oh, ow] = b[f] + sum_{c, i, j} w[f, c, i, j] * x_pad[n, c, oh*s + i, ow*s + j]

which im2col turns into ``out[n] = W2 @ cols[n] + b`` with ``W2 = w.reshape(F, C*K_h*K_w)``.

Backward, given ``dout = dL/dout`` (N, F, H_out, W_out)::

    db    = sum over n, oh, ow of dout[n, f, oh, ow]
    dW2   = sum_n dout[n] @ cols[n].T               (F, C*K_h*K_w)
    dcols = W2.T @ dout[n]                          (C*K_h*K_w, H_out*W_out) per image
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
    cols = im2col(x, (kh, kw), stride, padding)             # (N, C*K_h*K_w, H_out*W_out)
    w2 = w.reshape(f, c * kh * kw)
    out = np.matmul(w2, cols)                                # (N, F, H_out*W_out)
    if b is not None:
        out += b.reshape(1, f, 1)
    cache = (cols, w, x.shape, stride, padding, b is not None)
    return out.reshape(n, f, out_h, out_w), cache


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
    n, f = dout.shape[:2]
    dout2 = dout.reshape(n, f, -1)                           # (N, F, H_out*W_out)
    w2 = w.reshape(f, -1)
    dx = dw = db = None
    if need_dw:
        dw2 = np.zeros_like(w2)
        for i in range(n):                                   # sum_n dout[n] @ cols[n].T
            dw2 += dout2[i] @ cols[i].T
        dw = dw2.reshape(w.shape)
        if has_bias:
            db = dout2.sum(axis=(0, 2))
    if need_dx:
        dcols = np.matmul(w2.T, dout2)                       # (N, C*K_h*K_w, H_out*W_out)
        dx = col2im(dcols, x_shape, w.shape[2:], stride, padding)
    return dx, dw, db
