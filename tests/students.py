"""Textbook students: a correct solution of each exercise, written with NumPy only, as a
student would hand it in (the grader refuses files that use the library's implementations).
The tests of the exercise kit break these one mistake at a time.

Most are the files of benchmarks/students/textbook (the student whose network the capstone
benchmark trains), read from there; the loop and im2col conv2d and the Task 1 arithmetic
are written here.
"""

from pathlib import Path

TEXTBOOK = Path(__file__).resolve().parents[1] / "benchmarks" / "students" / "textbook"


def textbook(name):
    """The text of the textbook student's ``NAME.py``."""
    return (TEXTBOOK / f"{name}.py").read_text()


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

MAXPOOL2D = textbook("maxpool2d")

AVGPOOL2D = textbook("avgpool2d")

LINEAR = textbook("linear")

RELU = textbook("relu")

CROSS_ENTROPY = textbook("softmax_cross_entropy")

BATCHNORM = textbook("batchnorm")

DROPOUT = textbook("dropout")

SGD_MOMENTUM = textbook("sgd_momentum")

ADAM = textbook("adam")

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


