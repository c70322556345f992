"""The exercise kit grades right and wrong layers correctly, and says what is wrong.

Every grade runs the student's file in a subprocess; the broken students below are the
textbook implementations with one classic mistake each, and each must fail with its
diagnosis. The reference implementations (minitorch_cv.reference, minitorch_cv.theory)
score full marks and the skeletons score zero.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minitorch_cv.exercises import grader
from minitorch_cv.exercises.catalogue import EXERCISES
from minitorch_cv.exercises.diagnosis import compare, window_coverage
from minitorch_cv.exercises.skeleton import skeleton_text, write_skeleton

ROOT = Path(__file__).resolve().parents[1]
DATA = os.environ.get("MINITORCH_CV_DATA")

REFERENCE_FUNCTIONS = {
    "linear": "linear_forward, linear_backward",
    "relu": "relu_forward, relu_backward",
    "softmax_cross_entropy": "cross_entropy_forward, cross_entropy_backward",
    "conv2d": "conv2d_forward, conv2d_backward",
    "maxpool2d": "maxpool2d_forward, maxpool2d_backward",
    "avgpool2d": "avgpool2d_forward, avgpool2d_backward",
    "batchnorm": "batchnorm_forward, batchnorm_backward",
    "dropout": "dropout_forward, dropout_backward",
    "sgd_momentum": "sgd_momentum_step",
    "adam": "adam_step",
}

# ----------------------------------------------------------------- textbook students
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


# (exercise, name, source, words the diagnosis must contain)
MISTAKES = [
    ("conv2d", "kernel flipped", broken(CONV2D, ("np.tensordot(window, w, axes",
                                                 "np.tensordot(window, w[:, :, ::-1, ::-1], axes")),
     "flipped"),
    ("conv2d", "stride ignored", broken(CONV2D, ("kh) // stride + 1", "kh) + 1"),
                                        ("kw) // stride + 1", "kw) + 1"),
                                        ("i * stride:i * stride", "i:i"),
                                        ("j * stride:j * stride", "j:j")), "stride ignored"),
    ("conv2d", "windows step by 1", broken(CONV2D, ("i * stride:i * stride", "i:i"),
                                           ("j * stride:j * stride", "j:j")),
     "only in the cases with stride 2"),
    ("conv2d", "padding ignored", broken(CONV2D, ("x_pad = _pad(x, padding)\n    out_h",
                                                  "x_pad = x\n    out_h"),
                                         ("(h + 2 * padding - kh)", "(h - kh)"),
                                         ("(wd + 2 * padding - kw)", "(wd - kw)")),
     "padding ignored"),
    ("conv2d", "padding not cropped off dx",
     broken(CONV2D, ("dx = dx_pad[:, :, padding:padding + h, padding:padding + wd]",
                     "dx = dx_pad")), "not cropped"),
    ("conv2d", "mean over the batch", broken(CONV2D, ("return dx, dw, db",
                                                      "return dx, dw / n, db / n")),
     "averaged over the batch"),
    ("conv2d", "no accumulation over overlapping windows",
     broken(CONV2D, ("dx_pad[:, :, rows, cols] +=", "dx_pad[:, :, rows, cols] =")),
     "not accumulated"),
    ("conv2d", "im2col: a[idx] += v instead of np.add.at",
     broken(CONV2D_IM2COL, ("np.add.at(dx_pad, (slice(None), k, i, j), dcols)",
                            "dx_pad[:, k, i, j] += dcols")), "not accumulated"),
    ("maxpool2d", "gradient to every maximum",
     broken(MAXPOOL2D, ("mask = np.zeros_like(window)\n", ("mask = (window == window.max("
                        "axis=2, keepdims=True)).astype(float)\n")),
            ("            np.put_along_axis(mask, window.argmax(axis=2)[..., None], 1.0, axis=2)\n",
             "")),
     "EVERY maximum"),
    ("maxpool2d", "no accumulation over overlapping windows",
     broken(MAXPOOL2D, ("dx_pad[:, :, i * s:i * s + k, j * s:j * s + k] += (",
                        "dx_pad[:, :, i * s:i * s + k, j * s:j * s + k] = (")), "not accumulated"),
    ("maxpool2d", "stride defaults to 1", broken(MAXPOOL2D, ("s = k if stride", "s = 1 if stride")),
     "stride=None"),
    ("avgpool2d", "dx not divided by the window size",
     broken(AVGPOOL2D, ("/ (k * k)\n", "\n")), "not divided by the window size"),
    ("batchnorm", "unbiased variance", broken(BATCHNORM, ("var = x.var(axis=axes)",
                                                          "var = x.var(axis=axes, ddof=1)")),
     "unbiased"),
    ("batchnorm", "mean and variance as constants in dx",
     broken(BATCHNORM, ("if not training:\n        return", "if True:\n        return")),
     "constants"),
    ("dropout", "no 1/(1-p) scale", broken(DROPOUT, (" / x.dtype.type(1 - p)", "")), "1/(1-p)"),
    ("dropout", "p is the keep probability", broken(DROPOUT, (">= p)", "< p)")),
     "probability of DROPPING"),
    ("dropout", "a new mask in backward",
     broken(DROPOUT, ("    return dout * mask\n",
                      "    return dout * (np.random.random(dout.shape) >= 0.5) * 2\n")),
     "forward's mask"),
    ("adam", "no bias correction", broken(ADAM, ("m_hat = m_new / (1 - beta1 ** t)",
                                                 "m_hat = m_new"),
                                          ("v_hat = v_new / (1 - beta2 ** t)", "v_hat = v_new")),
     "without bias correction"),
    ("sgd_momentum", "CS231n velocity", broken(SGD_MOMENTUM, (
        "velocity_new = momentum * velocity + g\n    return w - lr * velocity_new",
        "velocity_new = momentum * velocity - lr * g\n    return w + velocity_new")), "CS231n"),
    ("avgpool2d", "padded zeros left out of the mean",
     broken(AVGPOOL2D, ("(padding, padding)))\n    oh",
                        "(padding, padding)), constant_values=np.nan)\n    oh"),
            ("= x_pad[:, :, i * s:i * s + k, j * s:j * s + k].mean(axis=(2, 3))",
             "= np.nanmean(x_pad[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3))")),
     "count_include_pad"),
    ("batchnorm", "running_var stores the biased variance",
     broken(BATCHNORM, ("running_var += momentum * var * m / (m - 1)",
                        "running_var += momentum * var")), "UNBIASED batch variance"),
    ("param_count", "biases not counted",
     broken(PARAM_COUNT, ("for p in layer_or_model.parameters())",
                          ("for name, p in layer_or_model.named_parameters()\n"
                          "               if not name.endswith('bias'))"))), "biases are not counted"),
    ("linear", "dw transposed", broken(LINEAR, ("dw = dout.T @ x", "dw = x.T @ dout")),
     "shape of w.T"),
    ("relu", "gradient at x == 0", broken(RELU, ("(cache > 0)", "(cache >= 0)")), "x == 0"),
    ("softmax_cross_entropy", "gradient not divided by N",
     broken(CROSS_ENTROPY, ("        d = d / len(labels)\n", "        pass\n")), "not divided by N"),
    ("softmax_cross_entropy", "no max subtraction",
     broken(CROSS_ENTROPY, ("shifted = logits - logits.max(axis=1, keepdims=True)",
                            "shifted = logits")), "overflow"),
    ("conv_output_size", "no +1", broken(CONV_OUTPUT_SIZE, (" // stride + 1", " // stride")),
     "+1 is missing"),
    ("conv_output_size", "true division", broken(CONV_OUTPUT_SIZE, (" // stride", " / stride")),
     "floor division"),
]

CORRECT = {"conv2d": CONV2D, "conv2d_im2col": CONV2D_IM2COL, "maxpool2d": MAXPOOL2D, "avgpool2d": AVGPOOL2D, "linear": LINEAR,
           "relu": RELU, "softmax_cross_entropy": CROSS_ENTROPY, "batchnorm": BATCHNORM,
           "dropout": DROPOUT, "adam": ADAM, "sgd_momentum": SGD_MOMENTUM,
           "conv_output_size": CONV_OUTPUT_SIZE, "param_count": PARAM_COUNT}


def grade_source(tmp_path, name, source, **kwargs):
    (tmp_path / f"{name}.py").write_text(source)
    return grader.grade(name, tmp_path, **kwargs)


def failing(report):
    return "\n".join(f"{c.name}: {c.message}" for c in report.checks if not c.passed)


# ----------------------------------------------------------------- full marks and zero
def test_reference_implementations_score_full_marks(tmp_path):
    for name, functions in REFERENCE_FUNCTIONS.items():
        (tmp_path / f"{name}.py").write_text(
            f"from minitorch_cv.reference import {functions}  # noqa: F401\n")
    for name in ("conv_output_size", "same_padding", "kernel_size_for", "param_count"):
        (tmp_path / f"{name}.py").write_text(f"from minitorch_cv.theory import {name}\n")
    reports = grader.grade_all(tmp_path)
    assert [r.exercise for r in reports] == list(EXERCISES)
    for report in reports:
        assert report.passed and report.score == 1.0, report.text()
        assert report.diagnoses == [], report.text()


def test_skeletons_score_zero_with_not_implemented(tmp_path):
    for name in EXERCISES:
        write_skeleton(name, tmp_path)
    for report in grader.grade_all(tmp_path):
        assert report.score == 0.0 and not report.passed, report.text()
        assert any("not implemented" in d for d in report.diagnoses), report.text()


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_textbook_students_pass(tmp_path, name):
    report = grade_source(tmp_path, name.replace("_im2col", ""), CORRECT[name])
    assert report.passed, report.text()


@pytest.mark.parametrize("name, mistake, source, words", MISTAKES,
                         ids=[f"{m[0]}-{m[1]}" for m in MISTAKES])
def test_each_mistake_fails_with_its_diagnosis(tmp_path, name, mistake, source, words):
    report = grade_source(tmp_path, name, source)
    assert not report.passed, report.text()
    assert any(words in d for d in report.diagnoses), (mistake, report.text())


def test_wrong_dtype_is_named(tmp_path):
    report = grade_source(tmp_path, "conv2d", broken(
        CONV2D, ("out = np.zeros((n, f, out_h, out_w), dtype=x.dtype)",
                 "out = np.zeros((n, f, out_h, out_w))")))
    assert "`out` has dtype float64, expected float32" in failing(report), report.text()
    assert report.score > 0.8


def test_conv2d_mistakes_name_the_wrong_output(tmp_path):
    report = grade_source(tmp_path, "conv2d", broken(
        CONV2D, ("dx = dx_pad[:, :, padding:padding + h, padding:padding + wd]", "dx = dx_pad")))
    wrong = failing(report)
    assert "`dx` has shape" in wrong and "`dw`" not in wrong, wrong
    # the forward checks still pass: only backward is wrong
    assert all(c.passed for c in report.checks if c.name.startswith("forward")), report.text()


# ----------------------------------------------------------------- students behaving badly
RELU_FORWARD_BODY = "    return np.maximum(x, 0), x\n"


@pytest.mark.parametrize("body, words", [
    ("    return x[100], x\n", "raised IndexError"),
    ("    return [0.0], x\n", "must return (out, cache)"),
    ("    x[x < 0] = 0\n    return x, x\n", "changed its input `x` in place"),
    ("    print('debug', x.shape)\n    return np.maximum(x, 0), x\n", "prints"),
    ("    import sys\n    sys.exit(3)\n", "sys.exit"),
    ("    import os\n    os._exit(0)\n", "exited"),
    ("    import ctypes\n    ctypes.string_at(0)\n", "died"),
], ids=["raises", "wrong type", "mutates", "prints", "sys.exit", "os._exit", "segfault"])
def test_misbehaving_student_gets_a_clear_message(tmp_path, body, words):
    report = grade_source(tmp_path, "relu", broken(RELU, (RELU_FORWARD_BODY, body)))
    assert not report.passed
    assert words in report.text(), report.text()
    assert "Traceback" not in report.text()


def test_raising_student_is_told_the_line(tmp_path):
    report = grade_source(tmp_path, "relu", broken(RELU, (RELU_FORWARD_BODY,
                                                          "    return x[100], x\n")))
    assert "line 6, in relu_forward: return x[100], x" in report.text(), report.text()


def test_infinite_loop_is_stopped(tmp_path):
    source = broken(RELU, (RELU_FORWARD_BODY, "    while True:\n        pass\n"))
    report = grade_source(tmp_path, "relu", source, time_scale=0.05)      # 0.5 s per call
    assert not report.passed
    assert "did not finish within" in report.text(), report.text()


def test_infinite_loop_at_import_is_stopped(tmp_path):
    report = grade_source(tmp_path, "relu", "while True:\n    pass\n", time_scale=0.05)
    assert not report.passed and report.score == 0.0
    assert "importing your file did not finish" in report.text(), report.text()


def test_half_done_exercise_says_what_is_left(tmp_path):
    source = skeleton_text("relu").replace(
        "    raise NotImplementedError", "    return np.maximum(x, 0), x", 1)
    report = grade_source(tmp_path, "relu", source)
    assert 0 < report.score < 1
    assert any("relu_backward: not implemented yet" in d for d in report.diagnoses), report.text()


def test_file_that_does_not_import(tmp_path):
    report = grade_source(tmp_path, "relu", "def relu_forward(x):\n    return x +\n")
    assert not report.passed and report.score == 0.0
    assert "could not be imported: SyntaxError" in report.text(), report.text()


def test_student_may_import_own_helper_module(tmp_path):
    (tmp_path / "my_helpers.py").write_text("import numpy as np\n\n\ndef relu(x):\n"
                                            "    return np.maximum(x, 0)\n")
    report = grade_source(tmp_path, "relu", "from my_helpers import relu\n\n\n"
                          "def relu_forward(x):\n    return relu(x), x\n\n\n"
                          "def relu_backward(dout, x):\n    return dout * (x > 0)\n")
    assert report.passed, report.text()


def test_missing_function(tmp_path):
    report = grade_source(tmp_path, "relu", "def relu_forward(x):\n    return x, x\n")
    assert "has no function relu_backward" in report.text()


# ----------------------------------------------------------------- diagnosis helpers
def test_compare_locates_border_channel_and_overlap():
    expected = np.zeros((2, 3, 6, 6))
    wrong = expected.copy()
    wrong[:, :, 0, :] = 1
    assert "only at the border" in compare("out", wrong, expected, border=1)[1]
    wrong = expected.copy()
    wrong[:, 1] = 1
    assert "only in channel(s) 1 (of 3)" in compare("dw", wrong, expected)[1]
    coverage = window_coverage((6, 6), 3, 2, 0)
    wrong = expected + (coverage > 1)
    assert "only where several windows overlap" in compare("dx", wrong, expected,
                                                           coverage=coverage)[1]
    assert compare("out", expected, expected)[0]


def test_skeleton_has_the_library_signatures():
    text = skeleton_text("conv2d")
    assert "def conv2d_forward(x, w, b=None, stride=1, padding=0):" in text
    assert "def conv2d_backward(dout, cache):" in text
    assert text.count("raise NotImplementedError") == 2
    compile(text, "conv2d.py", "exec")
    for name in EXERCISES:
        compile(skeleton_text(name), f"{name}.py", "exec")


# ----------------------------------------------------------------- the command line
def cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "minitorch_cv.exercises", *args], cwd=cwd,
                          check=False,
                          env=env, capture_output=True, text=True, timeout=300)


def test_done_when_flow_through_the_command_line(tmp_path):
    listed = cli("list", cwd=tmp_path)
    assert listed.returncode == 0
    for name in ("linear", "relu", "softmax_cross_entropy", "conv2d", "maxpool2d", "avgpool2d",
                 "batchnorm", "dropout", "sgd_momentum", "adam", "conv_output_size",
                 "same_padding", "kernel_size_for", "param_count"):
        assert f"\n{name} " in "\n" + listed.stdout
    assert cli("start", "conv2d", "--dir", "work", cwd=tmp_path).returncode == 0
    student = tmp_path / "work" / "conv2d.py"
    first = cli("check", "conv2d", "--dir", "work", cwd=tmp_path)
    assert first.returncode == 1 and "not implemented" in first.stdout, first.stdout
    again = cli("start", "conv2d", "--dir", "work", cwd=tmp_path)      # never overwrites
    assert again.returncode != 0 and "exists already" in again.stderr
    assert "raise NotImplementedError" in student.read_text()
    student.write_text(CONV2D)
    passed = cli("check", "conv2d", "--dir", "work", "--json", "report.json", cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["exercise"] == "conv2d" and report["passed"] and report["score"] == 1.0
    assert all(set(c) == {"name", "passed", "message"} for c in report["checks"])
    student.write_text(broken(CONV2D, ("np.tensordot(window, w, axes",
                                       "np.tensordot(window, w[:, :, ::-1, ::-1], axes")))
    failed = cli("check", "--all", "--dir", "work", "--json", cwd=tmp_path)
    assert failed.returncode == 1
    summary = json.loads(failed.stdout)                    # --all: always the class format
    assert not summary["passed"] and 0 < summary["score"] < 1
    (only,) = summary["exercises"]
    assert only["exercise"] == "conv2d" and only["score"] == summary["score"]
    assert any("flipped" in d for d in only["diagnosis"])


def test_unknown_exercise_and_usage_errors(tmp_path):
    assert cli("start", "conv3d", "--dir", "w", cwd=tmp_path).returncode == 2
    assert cli("check", "--dir", "w", cwd=tmp_path).returncode == 2
    missing = cli("check", "relu", "--dir", "nowhere", cwd=tmp_path)
    assert missing.returncode == 1 and "no file" in missing.stdout
