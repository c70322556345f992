"""Textbook students: a correct solution of each exercise, written with NumPy only, as a
student would hand it in (the grader refuses files that use the library's implementations).
The tests of the exercise kit break these one mistake at a time."""

CONV2D = '''
import numpy as np


def _pad(x, padding):
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    x_pad = _pad(x, padding)
    out_h = (h + 2 * padding - kh) // stride + 1
    out_w = (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((n, f, out_h, out_w), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            window = x_pad[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    if b is not None:
        out += b.reshape(1, f, 1, 1)
    return out, (x, w, b, stride, padding)


def conv2d_backward(dout, cache):
    x, w, b, stride, padding = cache
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    x_pad = _pad(x, padding)
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows = slice(i * stride, i * stride + kh)
            cols = slice(j * stride, j * stride + kw)
            dw += np.tensordot(dout[:, :, i, j], x_pad[:, :, rows, cols], axes=([0], [0]))
            dx_pad[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))
    db = dout.sum(axis=(0, 2, 3)) if b is not None else None
    dx = dx_pad[:, :, padding:padding + h, padding:padding + wd]
    return dx, dw, db
'''

CONV2D_IM2COL = '''
import numpy as np


def _indices(c, kh, kw, out_h, out_w, stride):
    rows = np.tile(np.repeat(np.arange(kh), kw), c)[:, None] + stride * np.repeat(
        np.arange(out_h), out_w)[None, :]
    cols = np.tile(np.arange(kw), kh * c)[:, None] + stride * np.tile(
        np.arange(out_w), out_h)[None, :]
    channels = np.repeat(np.arange(c), kh * kw)[:, None]
    return channels, rows, cols


def conv2d_forward(x, w, b=None, stride=1, padding=0):
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out_h = (h + 2 * padding - kh) // stride + 1
    out_w = (wd + 2 * padding - kw) // stride + 1
    k, i, j = _indices(c, kh, kw, out_h, out_w, stride)
    cols = x_pad[:, k, i, j]                                  # (N, C*K*K, H_out*W_out)
    out = w.reshape(f, -1) @ cols
    if b is not None:
        out += b.reshape(1, f, 1)
    return out.reshape(n, f, out_h, out_w), (x, w, b, stride, padding, cols)


def conv2d_backward(dout, cache):
    x, w, b, stride, padding, cols = cache
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    dout3 = dout.reshape(n, f, -1)
    dw = np.einsum("nfl,nkl->fk", dout3, cols).reshape(w.shape)
    db = dout3.sum(axis=(0, 2)) if b is not None else None
    dcols = w.reshape(f, -1).T @ dout3
    k, i, j = _indices(c, kh, kw, dout.shape[2], dout.shape[3], stride)
    dx_pad = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=dout.dtype)
    np.add.at(dx_pad, (slice(None), k, i, j), dcols)
    return dx_pad[:, :, padding:padding + h, padding:padding + wd], dw, db
'''

MAXPOOL2D = '''
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
'''

AVGPOOL2D = '''
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
'''

LINEAR = '''
import numpy as np


def linear_forward(x, w, b=None):
    out = x @ w.T
    if b is not None:
        out = out + b
    return out, (x, w, b)


def linear_backward(dout, cache):
    x, w, b = cache
    dx = dout @ w
    dw = dout.T @ x
    db = dout.sum(axis=0) if b is not None else None
    return dx, dw, db
'''

RELU = '''
import numpy as np


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, cache):
    return dout * (cache > 0)
'''

CROSS_ENTROPY = '''
import numpy as np


def cross_entropy_forward(logits, labels, reduction="mean"):
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -logp[np.arange(len(labels)), labels].sum()
    if reduction == "mean":
        loss = loss / len(labels)
    return float(loss), (logp, labels, reduction)


def cross_entropy_backward(cache, dloss=1.0):
    logp, labels, reduction = cache
    d = np.exp(logp)
    d[np.arange(len(labels)), labels] -= 1
    if reduction == "mean":
        d = d / len(labels)
    return d * dloss
'''

BATCHNORM = '''
import numpy as np


def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True,
                      momentum=0.1, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mu = x.mean(axis=axes)
        var = x.var(axis=axes)
        m = x.size // x.shape[1]
        running_mean *= 1 - momentum
        running_mean += momentum * mu
        running_var *= 1 - momentum
        running_var += momentum * var * m / (m - 1)
    else:
        mu, var = running_mean, running_var
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mu.reshape(shape)) * inv_std.reshape(shape)
    out = (gamma.reshape(shape) * x_hat + beta.reshape(shape)).astype(x.dtype)
    return out, (x_hat, gamma, inv_std, training, axes, shape)


def batchnorm_backward(dout, cache):
    x_hat, gamma, inv_std, training, axes, shape = cache
    dbeta = dout.sum(axis=axes)
    dgamma = (dout * x_hat).sum(axis=axes)
    g = dout * gamma.reshape(shape)
    if not training:
        return g * inv_std.reshape(shape), dgamma, dbeta
    dx = (g - g.mean(axis=axes, keepdims=True)
          - x_hat * (g * x_hat).mean(axis=axes, keepdims=True)) * inv_std.reshape(shape)
    return dx, dgamma, dbeta
'''

DROPOUT = '''
import numpy as np


def dropout_forward(x, p, rng, channelwise=False):
    shape = x.shape[:2] + (1,) * (x.ndim - 2) if channelwise else x.shape
    if p >= 1:
        mask = np.zeros(shape, dtype=x.dtype)
    else:
        mask = (rng.random(shape) >= p).astype(x.dtype) / x.dtype.type(1 - p)
    return x * mask, mask


def dropout_backward(dout, mask):
    return dout * mask
'''

SGD_MOMENTUM = '''
def sgd_momentum_step(w, dw, velocity, lr, momentum=0.9, weight_decay=0.0):
    g = dw + weight_decay * w
    velocity_new = momentum * velocity + g
    return w - lr * velocity_new, velocity_new
'''

ADAM = '''
import numpy as np


def adam_step(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    g = dw + weight_decay * w
    m_new = beta1 * m + (1 - beta1) * g
    v_new = beta2 * v + (1 - beta2) * g * g
    m_hat = m_new / (1 - beta1 ** t)
    v_hat = v_new / (1 - beta2 ** t)
    return (w - lr * m_hat / (np.sqrt(v_hat) + eps)).astype(w.dtype), m_new, v_new
'''

CONV_OUTPUT_SIZE = '''
def conv_output_size(size, kernel_size, stride=1, padding=0):
    return (size + 2 * padding - kernel_size) // stride + 1
'''

SAME_PADDING = '''
def same_padding(kernel_size, stride=1):
    return (kernel_size - 1) // 2
'''

KERNEL_SIZE_FOR = '''
def kernel_size_for(in_size, out_size, stride=1, padding=0):
    return in_size + 2 * padding - (out_size - 1) * stride
'''

PARAM_COUNT = '''
def param_count(layer_or_model):
    return sum(p.data.size for p in layer_or_model.parameters())
'''


def broken(source, *replacements):
    """``source`` with each (old, new) replaced; each ``old`` must be there."""
    for old, new in replacements:
        assert old in source, old
        source = source.replace(old, new)
    return source


CORRECT = {"conv2d": CONV2D, "conv2d_im2col": CONV2D_IM2COL, "maxpool2d": MAXPOOL2D, "avgpool2d": AVGPOOL2D, "linear": LINEAR,
           "relu": RELU, "softmax_cross_entropy": CROSS_ENTROPY, "batchnorm": BATCHNORM,
           "dropout": DROPOUT, "adam": ADAM, "sgd_momentum": SGD_MOMENTUM,
           "conv_output_size": CONV_OUTPUT_SIZE, "param_count": PARAM_COUNT,
           "same_padding": SAME_PADDING, "kernel_size_for": KERNEL_SIZE_FOR}


